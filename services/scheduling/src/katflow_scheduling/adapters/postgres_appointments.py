"""scheduling's appointment rows: read, insert, check in, move, extend, close (SQL with parameters
only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared.contracts.common import AppointmentKind
from katflow_shared.db import Part
from katflow_shared.errors import RuleViolation

from ..domain.appointments import RESERVING, Appointment, Status
from ..domain.reservations import Reservation

RESERVING_SQL = [s.value for s in RESERVING]


_APPOINTMENT_SQL = (
    "SELECT a.id, a.course_id, c.patient_id, c.patient_time_zone, a.kind, a.clinician_id, a.room_id,"
    " lower(a.during) AS starts_at, upper(a.during) AS ends_at, a.status, a.dose_number,"
    " a.follows_session_id, a.protocol_version FROM appointments a JOIN courses c ON c.id = a.course_id"
)


def _appointment(row: asyncpg.Record) -> Appointment:
    return Appointment(
        id=row["id"],
        course_id=row["course_id"],
        patient_id=row["patient_id"],
        patient_time_zone=row["patient_time_zone"],
        kind=AppointmentKind(row["kind"]),
        clinician_id=row["clinician_id"],
        room_id=row["room_id"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        status=Status(row["status"]),
        dose_number=row["dose_number"],
        follows_session_id=row["follows_session_id"],
        protocol_version=row["protocol_version"],
    )


async def get(conn: asyncpg.Connection | asyncpg.Pool, appointment_id: UUID) -> Appointment:
    row = await conn.fetchrow(_APPOINTMENT_SQL + " WHERE a.id = $1", appointment_id)
    if row is None:
        raise RuleViolation(
            ["appointment_id"], "appointment_not_found", f"no appointment {appointment_id}", 404
        )
    return _appointment(row)


async def has_consultation(conn: asyncpg.Connection, course_id: UUID) -> bool:
    """Whether the course has ever had a consultation booked (whatever became of it)."""
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM appointments WHERE course_id = $1 AND kind = 'consultation')", course_id
    )
    return bool(found)


async def open_of_course(conn: asyncpg.Connection, course_id: UUID) -> list[Appointment]:
    rows = await conn.fetch(
        _APPOINTMENT_SQL + " WHERE a.course_id = $1 AND a.status = ANY($2::text[]) ORDER BY lower(a.during)",
        course_id,
        RESERVING_SQL,
    )
    return [_appointment(r) for r in rows]


async def of_course(conn: asyncpg.Connection | asyncpg.Pool, course_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, course_id, kind, clinician_id, room_id, lower(during) AS starts_at,"
        " upper(during) AS ends_at, status FROM appointments WHERE course_id = $1 ORDER BY lower(during)",
        course_id,
    )
    return rows


def new_appointment(appointment_id: UUID, fields: dict[str, Any], r: Reservation) -> Part:
    """The appointment's INSERT, for ``db.composed``."""
    return (
        "INSERT INTO appointments(id, course_id, kind, clinician_id, room_id, during, cause_event,"
        " dose_number, follows_session_id, protocol_version)"
        " VALUES ($1, $2, $3, $4, $5, tstzrange($6, $7), $8, $9, $10, $11)",
        (
            appointment_id,
            fields["course_id"],
            fields["kind"],
            r.clinician_id,
            r.room_id,
            r.start,
            r.end,
            fields.get("cause_event"),
            fields.get("dose_number"),
            fields.get("follows_session_id"),
            fields.get("protocol_version"),
        ),
    )


async def set_status(
    conn: asyncpg.Connection,
    appointment_id: UUID,
    status: Status,
    now: datetime,
    reason: str | None,
    by: str | None,
) -> None:
    closing = status in (Status.COMPLETED, Status.CANCELLED, Status.MISSED)
    await conn.execute(
        "UPDATE appointments SET status = $2, closed_at = CASE WHEN $3 THEN $4 ELSE closed_at END,"
        " closed_reason = coalesce($5, closed_reason), closed_by = coalesce($6, closed_by) WHERE id = $1",
        appointment_id,
        status.value,
        closing,
        now,
        reason,
        by,
    )


async def check_in(
    conn: asyncpg.Connection, appointment_id: UUID, details: dict[str, Any], now: datetime
) -> None:
    await conn.execute(
        "UPDATE appointments SET status = 'checked_in', checked_in_at = $2, check_in = $3 WHERE id = $1",
        appointment_id,
        now,
        json.dumps(details),
    )


async def check_in_details(conn: asyncpg.Connection, appointment_id: UUID) -> dict[str, Any]:
    raw = await conn.fetchval("SELECT check_in FROM appointments WHERE id = $1", appointment_id)
    details: dict[str, Any] = json.loads(raw) if raw else {}
    return details


async def move(conn: asyncpg.Connection, appointment_id: UUID, r: Reservation) -> None:
    await conn.execute(
        "UPDATE appointments SET clinician_id = $2, room_id = $3, during = tstzrange($4, $5) WHERE id = $1",
        appointment_id,
        r.clinician_id,
        r.room_id,
        r.start,
        r.end,
    )


async def extend(conn: asyncpg.Connection, appointment_id: UUID, end: datetime) -> None:
    await conn.execute(
        "UPDATE appointments SET during = tstzrange(lower(during), $2) WHERE id = $1 AND upper(during) < $2",
        appointment_id,
        end,
    )


async def open_integration(conn: asyncpg.Connection, session_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM appointments WHERE follows_session_id = $1 AND kind = 'integration'"
            " AND status = ANY($2::text[])",
            session_id,
            RESERVING_SQL,
        )
    )
