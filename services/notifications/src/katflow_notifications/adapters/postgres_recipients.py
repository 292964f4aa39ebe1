"""Recipients (patient contact details and consent), SMS opt-outs, the appointment projection."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from katflow_shared.contracts import AppointmentRescheduled, AppointmentScheduled, PatientContactUpdated
from katflow_shared.db import Part, wrote

# One statement. Newest contact details win (by updated_at); each channel's consent keeps its newest
# capture (consent_is_newer, migration 007), so an older intake record never undoes a later STOP.
UPSERT_RECIPIENT = (
    "INSERT INTO recipients AS r (patient_id, given_name, email, phone, time_zone, updated_at,"
    " email_consent, email_consent_at, email_consent_method, sms_consent, sms_consent_at,"
    " sms_consent_method, consent_updated_at, date_of_birth) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
    " $10, $11, $12, GREATEST($8::timestamptz, $11::timestamptz), $13) ON CONFLICT (patient_id) DO UPDATE SET"
    " given_name = CASE WHEN EXCLUDED.updated_at > r.updated_at THEN EXCLUDED.given_name"
    "   ELSE r.given_name END,"
    " email = CASE WHEN EXCLUDED.updated_at > r.updated_at THEN EXCLUDED.email ELSE r.email END,"
    " phone = CASE WHEN EXCLUDED.updated_at > r.updated_at THEN EXCLUDED.phone ELSE r.phone END,"
    " time_zone = CASE WHEN EXCLUDED.updated_at > r.updated_at THEN EXCLUDED.time_zone ELSE r.time_zone END,"
    " date_of_birth = CASE WHEN EXCLUDED.updated_at > r.updated_at"
    "   THEN COALESCE(EXCLUDED.date_of_birth, r.date_of_birth)"
    "   ELSE COALESCE(r.date_of_birth, EXCLUDED.date_of_birth) END,"
    " updated_at = GREATEST(r.updated_at, EXCLUDED.updated_at),"
    " email_consent = CASE WHEN consent_is_newer(EXCLUDED.email_consent_at, r.email_consent_at)"
    "   THEN EXCLUDED.email_consent ELSE r.email_consent END,"
    " email_consent_method = CASE WHEN consent_is_newer(EXCLUDED.email_consent_at, r.email_consent_at)"
    "   THEN EXCLUDED.email_consent_method ELSE r.email_consent_method END,"
    " email_consent_at = consent_newest_at(EXCLUDED.email_consent_at, r.email_consent_at),"
    " sms_consent = CASE WHEN consent_is_newer(EXCLUDED.sms_consent_at, r.sms_consent_at)"
    "   THEN EXCLUDED.sms_consent ELSE r.sms_consent END,"
    " sms_consent_method = CASE WHEN consent_is_newer(EXCLUDED.sms_consent_at, r.sms_consent_at)"
    "   THEN EXCLUDED.sms_consent_method ELSE r.sms_consent_method END,"
    " sms_consent_at = consent_newest_at(EXCLUDED.sms_consent_at, r.sms_consent_at),"
    " consent_updated_at = GREATEST(consent_newest_at(EXCLUDED.email_consent_at, r.email_consent_at),"
    "   consent_newest_at(EXCLUDED.sms_consent_at, r.sms_consent_at))"
)


def recipient_row(e: PatientContactUpdated) -> Part:
    """The patient's contact details and consent, merged into what is on file (``db.composed``)."""
    email, sms = e.email_consent, e.sms_consent
    contact = (e.patient_id, e.given_name, e.email, e.phone, e.time_zone, e.updated_at)
    consents = (email.granted, email.captured_at, email.method, sms.granted, sms.captured_at, sms.method)
    return UPSERT_RECIPIENT, (*contact, *consents, e.date_of_birth)


async def time_zone_of(conn: asyncpg.Connection, patient_id: UUID) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT time_zone FROM recipients WHERE patient_id = $1", patient_id
    )
    return value


async def patients_with_phone(conn: asyncpg.Connection, phone: str) -> list[UUID]:
    rows = await conn.fetch("SELECT patient_id FROM recipients WHERE phone = $1 ORDER BY patient_id", phone)
    return [r["patient_id"] for r in rows]


async def set_sms_consent(
    conn: asyncpg.Connection,
    phone: str,
    granted: bool,
    keyword: str,
    now: datetime,
    method: str | None = None,
) -> None:
    """An inbound keyword (or its twin on the patient's page, ``method`` 'portal') changes the
    number's opt-out and the consent of every patient using it."""
    await conn.execute(
        "INSERT INTO sms_opt_outs(phone, opted_out, keyword, changed_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (phone) DO UPDATE SET opted_out = EXCLUDED.opted_out, keyword = EXCLUDED.keyword,"
        " changed_at = EXCLUDED.changed_at",
        phone,
        not granted,
        keyword,
        now,
    )
    await conn.execute(
        "UPDATE recipients SET sms_consent = $2, sms_consent_at = $3, sms_consent_method = $4"
        " WHERE phone = $1",
        phone,
        granted,
        now,
        method or f"sms-keyword:{keyword}",
    )


UPSERT_APPOINTMENT = (
    "INSERT INTO appointments(appointment_id, course_id, patient_id, kind, starts_at, ends_at, time_zone)"
    " VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (appointment_id) DO UPDATE SET"
    " starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, time_zone = EXCLUDED.time_zone,"
    " status = 'scheduled', updated_at = now()"
)


def appointment_row(e: AppointmentScheduled | AppointmentRescheduled) -> Part:
    """The appointment in the projection (new, or moved), for ``db.composed``."""
    values = (e.appointment_id, e.course_id, e.patient_id, e.kind.value, e.starts_at, e.ends_at)
    return UPSERT_APPOINTMENT, (*values, e.patient_time_zone)


async def close_appointment(
    conn: asyncpg.Connection, appointment_id: UUID, status: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "UPDATE appointments SET status = $2, updated_at = now() WHERE appointment_id = $1"
        " RETURNING starts_at, ends_at, time_zone",
        appointment_id,
        status,
    )


async def first_webhook(conn: asyncpg.Connection, webhook_id: str, kind: str, now: datetime) -> bool:
    """Record a signed inbound webhook; False when this webhook-id was processed before (replay)."""
    return await wrote(
        conn,
        "INSERT INTO inbound_webhooks(webhook_id, kind, received_at) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        webhook_id,
        kind,
        now,
    )


async def record_inbound_sms(
    conn: asyncpg.Connection, webhook_id: str, phone: str, keyword: str, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO inbound_sms(webhook_id, from_phone, keyword, received_at) VALUES ($1, $2, $3, $4)",
        webhook_id,
        phone,
        keyword,
        now,
    )
