"""Counting outcomes after load: sent, processed, lost, duplicated — printed by every fault test.

An email is duplicated when a recipient got two *different* acknowledgements (two Message-IDs: two
deliveries for one request). A copy with a Message-ID already received is a re-send: the documented
window at the SMTP edge (docs/reliability.md) — a crash after the server accepted a message and
before its delivery was marked sent — re-sends it under the same Message-ID for the receiver to
dedupe. Re-sends are counted and bounded, never counted as delivered twice."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .stack import Stack

ACK_SUBJECT = "We received your request"
# At most the deliveries one dispatcher has in flight (KATFLOW_DISPATCH_CONCURRENCY, 20) can be
# caught in that window by one crash.
RESENDS_PER_CRASH = 20


@dataclass(frozen=True)
class Counts:
    what: str
    sent: int
    processed: int
    lost: int
    duplicated: int
    resent: int = 0  # the same message again (same Message-ID)

    def line(self) -> str:
        return (
            f"{self.what}: sent={self.sent} processed={self.processed} "
            f"lost={self.lost} duplicated={self.duplicated} resent={self.resent}"
        )


async def appointment_counts(stack: Stack, accepted: list[dict[str, Any]]) -> Counts:
    rows = await stack.fetch(
        "scheduling", "SELECT course_id::text AS c, count(*) AS n FROM appointments GROUP BY 1"
    )
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
    copies = Counter((m.rcpt_to[0], m.message_id) for m in stack.sink.messages() if m.subject == ACK_SUBJECT)
    messages = Counter(rcpt for rcpt, _ in copies)  # distinct acknowledgements per recipient
    emails = [a["email"] for a in accepted]
    return Counts(
        "acknowledgement emails",
        len(emails),
        sum(1 for e in emails if messages[e]),
        sum(1 for e in emails if not messages[e]),
        sum(messages[e] - 1 for e in emails if messages[e] > 1),
        sum(n - 1 for n in copies.values()),
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


def assert_exactly_once(counts: list[Counts], crashes: int = 0) -> None:
    """Nothing lost, nothing done twice; after ``crashes`` kill -9s of notifications, at most
    RESENDS_PER_CRASH re-sends each (none without a crash)."""
    for c in counts:
        assert (c.lost, c.duplicated) == (0, 0), c.line()
        assert c.resent <= RESENDS_PER_CRASH * crashes, c.line()
