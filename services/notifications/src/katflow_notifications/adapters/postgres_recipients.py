"""Recipients (patient contact details and consent), SMS opt-outs, the appointment projection."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from katflow_shared.contracts import AppointmentRescheduled, AppointmentScheduled, PatientContactUpdated

from ..domain.consent import Consent, newest


async def upsert_recipient(conn: asyncpg.Connection, e: PatientContactUpdated) -> None:
    """Newest contact details win (by ``updated_at``); each channel's consent keeps its newest
    capture (domain.consent.newest), so an older intake record never undoes a later STOP."""
    await conn.execute(
        "INSERT INTO recipients(patient_id, given_name, time_zone, updated_at) VALUES ($1, '', 'UTC', $2)"
        " ON CONFLICT (patient_id) DO NOTHING",
        e.patient_id,
        datetime(1970, 1, 1, tzinfo=UTC),  # older than any real record
    )
    row = await conn.fetchrow(
        "SELECT updated_at, email_consent, email_consent_at, email_consent_method, sms_consent,"
        " sms_consent_at, sms_consent_method FROM recipients WHERE patient_id = $1 FOR UPDATE",
        e.patient_id,
    )
    assert row is not None
    email = newest(
        Consent(row["email_consent"], row["email_consent_at"], row["email_consent_method"]),
        Consent(e.email_consent.granted, e.email_consent.captured_at, e.email_consent.method),
    )
    sms = newest(
        Consent(row["sms_consent"], row["sms_consent_at"], row["sms_consent_method"]),
        Consent(e.sms_consent.granted, e.sms_consent.captured_at, e.sms_consent.method),
    )
    await conn.execute(
        "UPDATE recipients SET email_consent = $2, email_consent_at = $3, email_consent_method = $4,"
        " sms_consent = $5, sms_consent_at = $6, sms_consent_method = $7,"
        " consent_updated_at = GREATEST($3::timestamptz, $6::timestamptz) WHERE patient_id = $1",
        e.patient_id,
        email.granted,
        email.captured_at,
        email.method,
        sms.granted,
        sms.captured_at,
        sms.method,
    )
    if e.updated_at > row["updated_at"]:
        await conn.execute(
            "UPDATE recipients SET given_name = $2, email = $3, phone = $4, time_zone = $5, updated_at = $6"
            " WHERE patient_id = $1",
            e.patient_id,
            e.given_name,
            e.email,
            e.phone,
            e.time_zone,
            e.updated_at,
        )


async def locale_of(conn: asyncpg.Connection, patient_id: UUID) -> str | None:
    value: str | None = await conn.fetchval("SELECT locale FROM recipients WHERE patient_id = $1", patient_id)
    return value


async def time_zone_of(conn: asyncpg.Connection, patient_id: UUID) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT time_zone FROM recipients WHERE patient_id = $1", patient_id
    )
    return value


async def patients_with_phone(conn: asyncpg.Connection, phone: str) -> list[UUID]:
    rows = await conn.fetch("SELECT patient_id FROM recipients WHERE phone = $1 ORDER BY patient_id", phone)
    return [r["patient_id"] for r in rows]


async def set_sms_consent(
    conn: asyncpg.Connection, phone: str, granted: bool, keyword: str, now: datetime
) -> None:
    """An inbound keyword changes the number's opt-out and the consent of every patient using it."""
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
        f"sms-keyword:{keyword}",
    )


async def upsert_appointment(
    conn: asyncpg.Connection, e: AppointmentScheduled | AppointmentRescheduled
) -> None:
    await conn.execute(
        "INSERT INTO appointments(appointment_id, course_id, patient_id, kind, starts_at, ends_at, time_zone)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (appointment_id) DO UPDATE SET"
        " starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, time_zone = EXCLUDED.time_zone,"
        " status = 'scheduled', updated_at = now()",
        e.appointment_id,
        e.course_id,
        e.patient_id,
        e.kind.value,
        e.starts_at,
        e.ends_at,
        e.patient_time_zone,
    )


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
    inserted = await conn.fetchval(
        "INSERT INTO inbound_webhooks(webhook_id, kind, received_at) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        webhook_id,
        kind,
        now,
    )
    return bool(inserted)


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
