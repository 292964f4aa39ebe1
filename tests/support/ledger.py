"""Counting outcomes after load: sent, processed, lost, duplicated — printed by every fault test."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .stack import Stack

ACK_SUBJECT = "We received your request"


@dataclass(frozen=True)
class Counts:
    what: str
    sent: int
    processed: int
    lost: int
    duplicated: int

    def line(self) -> str:
        return (
            f"{self.what}: sent={self.sent} processed={self.processed} "
            f"lost={self.lost} duplicated={self.duplicated}"
        )


async def appointment_counts(stack: Stack, accepted: list[dict[str, Any]]) -> Counts:
    conn = await stack.db("scheduling")
    try:
        rows = await conn.fetch("SELECT course_id::text AS c, count(*) AS n FROM appointments GROUP BY 1")
    finally:
        await conn.close()
    per_course = {r["c"]: r["n"] for r in rows}
    courses = [a["course_id"] for a in accepted]
    return Counts(
        "appointments",
        len(courses),
        sum(1 for c in courses if per_course.get(c)),
        sum(1 for c in courses if not per_course.get(c)),
        sum(per_course.get(c, 0) - 1 for c in courses if per_course.get(c, 0) > 1),
    )


def ack_counts(stack: Stack, accepted: list[dict[str, Any]]) -> Counts:
    received = Counter(m.rcpt_to[0] for m in stack.sink.messages() if m.subject == ACK_SUBJECT)
    emails = [a["email"] for a in accepted]
    return Counts(
        "acknowledgement emails",
        len(emails),
        sum(1 for e in emails if received[e]),
        sum(1 for e in emails if not received[e]),
        sum(received[e] - 1 for e in emails if received[e] > 1),
    )


async def settle(stack: Stack, accepted: list[dict[str, Any]], within: float = 180) -> list[Counts]:
    """Wait until nothing is lost (or time runs out), then a little longer to catch duplicates."""
    deadline = time.monotonic() + within
    while True:
        counts = [await appointment_counts(stack, accepted), ack_counts(stack, accepted)]
        if all(c.lost == 0 for c in counts) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    await asyncio.sleep(3)  # anything sent twice would arrive now
    counts = [await appointment_counts(stack, accepted), ack_counts(stack, accepted)]
    for c in counts:
        print(c.line())
    return counts


def assert_exactly_once(counts: list[Counts]) -> None:
    for c in counts:
        assert (c.lost, c.duplicated) == (0, 0), c.line()
