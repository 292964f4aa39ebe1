"""The bookings waiting for a slot (``booking.waitlist``): their pending look timers, read from the
timers table (SQL with parameters only)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from ..domain import timer_keys


async def page(
    pool: asyncpg.Pool,
    after: tuple[datetime, tuple[UUID, str]] | tuple[None, None] = (None, None),
    limit: int | None = None,
) -> list[asyncpg.Record]:
    """The bookings waiting for a slot (``booking.waitlist``), longest waiting first: their pending
    look timers; a page of ``limit`` of them after ``after`` (waiting since, (course, kind))."""
    since, (course_id, kind) = after[0], after[1] or (None, None)
    return list(
        await pool.fetch(
            "SELECT (payload->>'course_id')::uuid AS course_id, payload->>'kind' AS kind,"
            " (payload->>'since')::timestamptz AS waiting_since, (payload->>'look')::int - 1 AS looks,"
            " due_at AS next_look_at FROM timers WHERE kind = $1 AND status = 'pending'"
            " AND ($2::timestamptz IS NULL OR ((payload->>'since')::timestamptz,"
            " (payload->>'course_id')::uuid, payload->>'kind') > ($2, $3::uuid, $4::text))"
            " ORDER BY waiting_since, course_id, kind LIMIT $5",
            timer_keys.BOOKING_RETRY,
            since,
            course_id,
            kind,
            limit,
        )
    )


async def longest(conn: asyncpg.Connection, kind: str) -> int | None:
    """The id of the look timer of the booking of ``kind`` that has waited longest, locked; one being
    fired right now is skipped."""
    timer_id: int | None = await conn.fetchval(
        "SELECT id FROM timers WHERE kind = $1 AND status = 'pending' AND payload->>'kind' = $2"
        " ORDER BY (payload->>'since')::timestamptz, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        timer_keys.BOOKING_RETRY,
        kind,
    )
    return timer_id
