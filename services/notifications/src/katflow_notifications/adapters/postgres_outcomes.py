"""A claimed or queued delivery's other fates on the deliveries table: deferred, retried later,
finished unsent (suppressed, cancelled, failed), cancelled while queued; each try logged
(``delivery_attempts``); the failure a fallback starts from; its template changed to the patient's
language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import asyncpg


async def defer(
    conn: asyncpg.Connection | asyncpg.Pool, delivery_id: UUID, until: datetime, reason: str
) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'queued', next_attempt_at = $2, reason = $3, updated_at = now()"
        " WHERE id = $1 AND status = 'sending'",
        delivery_id,
        until,
        reason,
    )


async def finish_unsent(
    conn: asyncpg.Connection, delivery_id: UUID, status: str, reason: str, now: datetime
) -> bool:
    """suppressed / cancelled / failed; False when the delivery had already left 'sending'."""
    result = await conn.execute(
        "UPDATE deliveries SET status = $2, reason = $3, last_error = CASE WHEN $2 = 'failed' THEN $3"
        " ELSE last_error END, failed_at = CASE WHEN $2 = 'failed' THEN $4 ELSE failed_at END,"
        " updated_at = $4 WHERE id = $1 AND status IN ('sending', 'sent')",
        delivery_id,
        status,
        reason,
        now,
    )
    return bool(result.endswith(" 1"))


async def record_attempt(
    conn: asyncpg.Connection,
    delivery_id: UUID,
    now: datetime,
    outcome: str,
    error_code: str | None = None,
    provider_id: str | None = None,
) -> int:
    """Count the try on the delivery and log it; returns the attempt number."""
    attempt: int = await conn.fetchval(
        "UPDATE deliveries SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts", delivery_id
    )
    await conn.execute(
        "INSERT INTO delivery_attempts(delivery_id, attempt, attempted_at, outcome, error_code, provider_id)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        delivery_id,
        attempt,
        now,
        outcome,
        error_code,
        provider_id,
    )
    return attempt


async def retry_later(
    conn: asyncpg.Connection, delivery_id: UUID, at: datetime, error_code: str, now: datetime
) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'queued', next_attempt_at = $2, last_error = $3, updated_at = $4"
        " WHERE id = $1 AND status = 'sending'",
        delivery_id,
        at,
        error_code,
        now,
    )


async def cancel_queued(
    conn: asyncpg.Connection, appointment_id: UUID, notifications: Sequence[str], reason: str
) -> int:
    """Queued (not yet handed over) deliveries of these notifications for the appointment."""
    result = await conn.execute(
        "UPDATE deliveries SET status = 'cancelled', reason = $3, updated_at = now()"
        " WHERE appointment_id = $1 AND notification = ANY($2::text[]) AND status = 'queued'",
        appointment_id,
        list(notifications),
        reason,
    )
    return int(result.split()[-1])


async def cancel_automated_for_course(conn: asyncpg.Connection, course_id: UUID, reason: str) -> int:
    result = await conn.execute(
        "UPDATE deliveries SET status = 'cancelled', reason = $2, updated_at = now()"
        " WHERE course_id = $1 AND audience = 'patient' AND automated AND status = 'queued'",
        course_id,
        reason,
    )
    return int(result.split()[-1])


async def chain_failure(
    conn: asyncpg.Connection, event_id: UUID, patient_id: UUID | None, notification: str
) -> asyncpg.Record | None:
    """The latest failed delivery (id, channel, template_id, last_error) of this patient
    notification, if any."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT id, channel, template_id, last_error FROM deliveries WHERE event_id = $1"
        " AND patient_id IS NOT DISTINCT FROM $2 AND notification = $3 AND status = 'failed'"
        " ORDER BY failed_at DESC LIMIT 1",
        event_id,
        patient_id,
        notification,
    )
    return row


async def retemplate(
    pool: asyncpg.Pool, delivery_id: UUID, template_id: str, version: int, locale: str
) -> None:
    """The patient chose another language after this delivery was planned: it goes in theirs."""
    await pool.execute(
        "UPDATE deliveries SET template_id = $2, template_version = $3, locale = $4 WHERE id = $1",
        delivery_id,
        template_id,
        version,
        locale,
    )
