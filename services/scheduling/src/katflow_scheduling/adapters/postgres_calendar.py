"""The calendar as booking sees it: the booking lock, busy intervals and the search watermarks (SQL
with parameters only; the clinic's own tables are ``postgres_clinic``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared.db import Part

from ..domain.reservations import Need, Watermark
from ..domain.slots import Interval

CALENDAR_LOCK = 0x63616C656E646172  # "calendar"


async def lock_calendar(conn: asyncpg.Connection) -> None:
    """Serialise every change to reserved time until the transaction ends: a booking's search and
    insert, a move, a monitoring extension. Without it, concurrent partition workers all pick the
    same first free slot, all but one hit the exclusion constraint (or deadlock on it) and back off:
    measured, that stalled booking for tens of seconds under load. With it, what a booking read as
    free is still free when it inserts (no savepoint, no second search)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", CALENDAR_LOCK)


def need_key(need: Need, minutes: int) -> str:
    return f"{','.join(need.clinicians)}|{','.join(need.rooms)}|{minutes}"


@dataclass(frozen=True)
class Locked:
    """What a search reads as it takes the calendar lock: the generation, the clinic's version, the
    need's watermark if it was computed at that generation, and the reserved intervals of [since,
    until)."""

    generation: int
    clinic_version: int
    mark: Watermark | None
    since: datetime
    until: datetime
    busy: dict[str, list[Interval]]


async def lock_for_search(
    conn: asyncpg.Connection, key: str, resources: list[str], earliest: datetime, span: timedelta
) -> Locked:
    """``lock_calendar``, then the generation, the need's watermark and the bookings of the ``span``
    from where a search from ``earliest`` resumes, all read after the lock was granted — in one round
    trip (migration ``005_locked_search.sql`` says why that takes a function)."""
    row = await conn.fetchrow(
        "SELECT * FROM lock_calendar_for_search($1, $2, $3, $4, $5)",
        CALENDAR_LOCK,
        key,
        resources,
        earliest,
        span,
    )
    mark = Watermark(row["searched_from"], row["full_until"]) if row["searched_from"] else None
    rows = zip(
        row["clinician_ids"] or (), row["room_ids"] or (), row["starts"] or (), row["ends"] or (), strict=True
    )
    since = row["since"]
    busy = _by_resource(rows, resources)
    return Locked(int(row["generation"]), int(row["clinic_version"]), mark, since, since + span, busy)


def new_watermark(key: str, generation: int, mark: Watermark) -> Part:
    """The need's watermark, saved (for ``db.composed``)."""
    return (
        "INSERT INTO search_watermarks(need, generation, searched_from, full_until) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (need) DO UPDATE SET generation = EXCLUDED.generation,"
        " searched_from = EXCLUDED.searched_from, full_until = EXCLUDED.full_until",
        (key, generation, mark.searched_from, mark.full_until),
    )


async def busy(
    conn: asyncpg.Connection,
    resources: list[str],
    since: datetime,
    until: datetime | None = None,
    exclude: UUID | None = None,
) -> dict[str, list[Interval]]:
    """Reserved intervals overlapping [since, until) per clinician id and per room id (ids never
    collide), but ``exclude``'s."""
    rows = await conn.fetch("SELECT * FROM busy_intervals($1, $2, $3, $4)", resources, since, until, exclude)
    return _by_resource(rows, resources)


def _by_resource(rows: Iterable[Sequence[Any]], resources: list[str]) -> dict[str, list[Interval]]:
    """(clinician, room, start, end) rows as each listed resource's intervals."""
    out: dict[str, list[Interval]] = defaultdict(list)
    for clinician, room, start, end in rows:
        for resource in (clinician, room):
            if resource in resources:
                out[resource].append(Interval(start, end))
    return out
