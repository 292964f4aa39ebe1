"""notifications' tables: recipients and deliveries."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared.contracts import PatientContactUpdated

from ..domain.templates import Template

DELIVERY_COLUMNS = (
    "d.id, d.audience, d.channel, d.template_id, d.template_version, d.context, d.attempts,"
    " d.staff_id, r.given_name, r.email, r.phone, r.time_zone, r.email_consent, r.sms_consent"
)


async def upsert_recipient(conn: asyncpg.Connection, e: PatientContactUpdated) -> None:
    """Keep the newest version of a patient's contact details (events may arrive out of order)."""
    await conn.execute(
        "INSERT INTO recipients(patient_id, given_name, email, phone, time_zone, email_consent,"
        " sms_consent, consent_updated_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
        " ON CONFLICT (patient_id) DO UPDATE SET given_name = EXCLUDED.given_name,"
        " email = EXCLUDED.email, phone = EXCLUDED.phone, time_zone = EXCLUDED.time_zone,"
        " email_consent = EXCLUDED.email_consent, sms_consent = EXCLUDED.sms_consent,"
        " consent_updated_at = EXCLUDED.consent_updated_at, updated_at = EXCLUDED.updated_at"
        " WHERE recipients.updated_at < EXCLUDED.updated_at",
        e.patient_id,
        e.given_name,
        e.email,
        e.phone,
        e.time_zone,
        e.email_consent.granted,
        e.sms_consent.granted,
        e.email_consent.captured_at,
        e.updated_at,
    )


async def queue(
    conn: asyncpg.Connection,
    *,
    event_id: str,
    template: Template,
    channel: str,
    context: dict[str, Any],
    course_id: UUID | None,
    patient_id: UUID | None = None,
    staff_id: str | None = None,
) -> None:
    recipient = str(patient_id or staff_id)
    key = f"{event_id}:{recipient}:{channel}:{template.id}"
    await conn.execute(
        "INSERT INTO deliveries(id, idempotency_key, event_id, course_id, patient_id, staff_id,"
        " audience, channel, template_id, template_version, context)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT (idempotency_key) DO NOTHING",
        uuid.uuid4(),
        key,
        event_id,
        course_id,
        patient_id,
        staff_id,
        template.audience,
        channel,
        template.id,
        template.version,
        json.dumps(context),
    )


async def claim_due(
    conn: asyncpg.Connection, now: datetime, lease: timedelta, limit: int
) -> list[asyncpg.Record]:
    """Claim deliveries that are due and whose patient contact is known; lease them."""
    rows = await conn.fetch(
        f"SELECT {DELIVERY_COLUMNS} FROM deliveries d"  # noqa: S608 - constant column list
        " LEFT JOIN recipients r ON r.patient_id = d.patient_id"
        " WHERE d.status IN ('queued', 'sending') AND d.next_attempt_at <= $1"
        " AND (d.audience = 'staff' OR r.patient_id IS NOT NULL)"
        " ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
        now,
        limit,
    )
    if rows:
        await conn.execute(
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, next_attempt_at = $2"
            " WHERE id = ANY($1::uuid[])",
            [r["id"] for r in rows],
            now + lease,
        )
    return rows


async def mark(
    conn: asyncpg.Connection | asyncpg.Pool,
    delivery_id: UUID,
    status: str,
    *,
    error: str | None = None,
    provider_id: str | None = None,
    retry_at: datetime | None = None,
) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = $2, last_error = $3, provider_id = COALESCE($4, provider_id),"
        " next_attempt_at = COALESCE($5, next_attempt_at),"
        " sent_at = CASE WHEN $2 = 'sent' THEN now() ELSE sent_at END WHERE id = $1",
        delivery_id,
        status,
        error,
        provider_id,
        retry_at,
    )


HISTORY = (
    "SELECT id, course_id, patient_id, staff_id, audience, channel, template_id, template_version,"
    " status, attempts, last_error, provider_id, created_at, sent_at FROM deliveries"
)


async def course_history(pool: asyncpg.Pool, course_id: UUID) -> list[asyncpg.Record]:
    return await pool.fetch(HISTORY + " WHERE course_id = $1 ORDER BY created_at", course_id)


async def patient_history(pool: asyncpg.Pool, patient_id: UUID) -> list[asyncpg.Record]:
    return await pool.fetch(HISTORY + " WHERE patient_id = $1 ORDER BY created_at", patient_id)
