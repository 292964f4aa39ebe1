"""A course's or a patient's delivery history, page by page, and the attempts of deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

HISTORY = (
    "SELECT id, event_id, course_id, patient_id, staff_id, audience, notification, channel, template_id,"
    " template_version, locale, status, reason, attempts, last_error, provider_id, fallback_of, urgent,"
    " automated, created_at, next_attempt_at, sent_at, delivered_at, failed_at FROM deliveries"
)


After = tuple[datetime, UUID] | tuple[None, None]  # the (created_at, id) a page starts after
PAGE = " AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid)) ORDER BY created_at, id LIMIT $4"


async def course_history(
    pool: asyncpg.Pool, course_id: UUID, after: After = (None, None), limit: int | None = None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        HISTORY + " WHERE course_id = $1" + PAGE, course_id, *after, limit
    )
    return rows


async def patient_history(
    pool: asyncpg.Pool, patient_id: UUID, after: After = (None, None), limit: int | None = None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        HISTORY + " WHERE patient_id = $1" + PAGE, patient_id, *after, limit
    )
    return rows


async def attempts_of(pool: asyncpg.Pool, delivery_ids: Sequence[UUID]) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT delivery_id, attempt, attempted_at, outcome, error_code, provider_id FROM delivery_attempts"
        " WHERE delivery_id = ANY($1::uuid[]) ORDER BY delivery_id, attempt",
        list(delivery_ids),
    )
    return rows
