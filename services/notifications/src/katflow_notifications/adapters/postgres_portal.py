"""The patient page's tables: portal links, the course → protocol projection, what the page reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import asyncpg

from katflow_shared.contracts import PreparationCompleted
from katflow_shared.db import Part

from ..domain.portal.page import AppointmentRow


class LinkCollision(Exception):
    """Two messages derived one link id (the message then goes with the bare portal address)."""


@dataclass(frozen=True)
class LinkRow:
    link_id: bytes
    patient_id: UUID
    expires_at: datetime
    failed_attempts: int
    revoked_at: datetime | None


@dataclass(frozen=True)
class Holder:
    """The patient a link belongs to, as the page needs them (no contact details)."""

    patient_id: UUID
    given_name: str
    time_zone: str
    date_of_birth: date | None
    email: bool  # an address is on file
    phone: bool
    email_consent: bool
    sms_consent: bool
    optional_messages: bool  # surveys: not stopped by a one-click unsubscribe
    locale: str | None  # their language (page and messages); None: the clinic's


def course_protocol_row(e: PreparationCompleted) -> Part:
    return (
        "INSERT INTO course_protocols(course_id, protocol_version) VALUES ($1, $2)"
        " ON CONFLICT (course_id) DO UPDATE SET protocol_version = EXCLUDED.protocol_version",
        (e.course_id, e.protocol_version),
    )


async def mint(
    conn: asyncpg.Connection | asyncpg.Pool,
    link_id: bytes,
    patient_id: UUID,
    delivery_id: UUID,
    now: datetime,
    expires_at: datetime,
) -> datetime:
    """The link of one message (the same on a retry of that message): its expiry. A link id already
    held by another message (64 bits derived under the secret: not expected in the life of a
    clinic) is refused rather than shared, so a token can never open another patient's page."""
    row = await conn.fetchrow(
        "INSERT INTO portal_links(link_id, patient_id, delivery_id, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (link_id) DO UPDATE SET link_id = EXCLUDED.link_id"
        " RETURNING expires_at, delivery_id",
        link_id,
        patient_id,
        delivery_id,
        now,
        expires_at,
    )
    if row["delivery_id"] != delivery_id:
        raise LinkCollision("portal link id already taken by another message")
    found: datetime = row["expires_at"]
    return found


async def link(conn: asyncpg.Connection | asyncpg.Pool, link_id: bytes) -> LinkRow | None:
    row = await conn.fetchrow(
        "SELECT link_id, patient_id, expires_at, failed_attempts, revoked_at FROM portal_links"
        " WHERE link_id = $1",
        link_id,
    )
    return LinkRow(**dict(row)) if row else None


async def failed_attempt(conn: asyncpg.Connection, link_id: bytes) -> int:
    count: int = await conn.fetchval(
        "UPDATE portal_links SET failed_attempts = failed_attempts + 1 WHERE link_id = $1"
        " RETURNING failed_attempts",
        link_id,
    )
    return count


REVOKE = (
    "UPDATE portal_links SET revoked_at = $2, revoked_reason = $3 WHERE link_id = $1 AND revoked_at IS NULL"
)


async def revoke(conn: asyncpg.Connection | asyncpg.Pool, link_id: bytes, reason: str, now: datetime) -> None:
    await conn.execute(REVOKE, *revoked_row(link_id, reason, now)[1])


def revoked_row(link_id: bytes, reason: str, now: datetime) -> Part:
    """The link turned off (unless it was already), for a unit of work's writes."""
    return REVOKE, (link_id, now, reason)


async def holder(conn: asyncpg.Connection | asyncpg.Pool, patient_id: UUID) -> Holder | None:
    row = await conn.fetchrow(
        "SELECT patient_id, given_name, time_zone, date_of_birth, email IS NOT NULL AS email,"
        " phone IS NOT NULL AS phone, email_consent, sms_consent,"
        " optional_opted_out_at IS NULL AS optional_messages, locale FROM recipients r"
        " WHERE patient_id = $1",
        patient_id,
    )
    return Holder(**dict(row)) if row else None


async def appointments(conn: asyncpg.Connection | asyncpg.Pool, patient_id: UUID) -> list[AppointmentRow]:
    rows = await conn.fetch(
        "SELECT appointment_id, course_id, kind, starts_at, ends_at, status FROM appointments"
        " WHERE patient_id = $1 ORDER BY starts_at",
        patient_id,
    )
    return [AppointmentRow(**dict(r)) for r in rows]


async def appointment(
    conn: asyncpg.Connection | asyncpg.Pool, patient_id: UUID, appointment_id: UUID
) -> asyncpg.Record | None:
    """One of the patient's own appointments (someone else's is not found)."""
    return await conn.fetchrow(
        "SELECT appointment_id, course_id, kind, starts_at, ends_at, status, updated_at FROM appointments"
        " WHERE patient_id = $1 AND appointment_id = $2",
        patient_id,
        appointment_id,
    )


async def protocols(conn: asyncpg.Connection | asyncpg.Pool, course_ids: list[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch(
        "SELECT course_id, protocol_version FROM course_protocols WHERE course_id = ANY($1::uuid[])",
        course_ids,
    )
    return {r["course_id"]: r["protocol_version"] for r in rows}


async def phone_of(conn: asyncpg.Connection, patient_id: UUID) -> str | None:
    phone: str | None = await conn.fetchval("SELECT phone FROM recipients WHERE patient_id = $1", patient_id)
    return phone


async def set_email_consent(conn: asyncpg.Connection, patient_id: UUID, granted: bool, now: datetime) -> None:
    await conn.execute(
        "UPDATE recipients SET email_consent = $2, email_consent_at = $3, email_consent_method = 'portal'"
        " WHERE patient_id = $1",
        patient_id,
        granted,
        now,
    )


async def set_optional_messages(
    conn: asyncpg.Connection | asyncpg.Pool, patient_id: UUID, wanted: bool, now: datetime
) -> None:
    """Optional messages (surveys) on or off; appointment-critical messages are never affected."""
    await conn.execute(
        "UPDATE recipients SET optional_opted_out_at = CASE WHEN $2 THEN NULL"
        " ELSE COALESCE(optional_opted_out_at, $3) END WHERE patient_id = $1",
        patient_id,
        wanted,
        now,
    )


async def set_locale(conn: asyncpg.Connection, patient_id: UUID, locale: str) -> None:
    """The patient's language: their page's, and their messages' from the next one sent."""
    await conn.execute("UPDATE recipients SET locale = $2 WHERE patient_id = $1", patient_id, locale)


async def purge(pool: asyncpg.Pool, before: datetime, batch: int) -> int:
    """Delete up to ``batch`` links that expired before ``before`` (turned off or not)."""
    deleted: str = await pool.execute(
        "DELETE FROM portal_links WHERE link_id IN (SELECT link_id FROM portal_links"
        " WHERE expires_at < $1 LIMIT $2)",
        before,
        batch,
    )
    return int(deleted.split()[-1])
