"""scheduling's course, appointment and session rows (SQL with parameters only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared import timers
from katflow_shared.contracts.common import AppointmentKind, Route
from katflow_shared.db import Part
from katflow_shared.errors import RuleViolation

from ..domain import timer_keys
from ..domain.appointments import RESERVING, Appointment, Status
from ..domain.course import CoursePlan, CourseStatus
from ..domain.integration import Window
from ..domain.reservations import Reservation

RESERVING_SQL = [s.value for s in RESERVING]


async def ensure_course(
    conn: asyncpg.Connection, course_id: UUID, patient_id: UUID, zone: str
) -> CoursePlan | None:
    """Create the course unless it exists: the new course's plan (nothing given or booked yet, so
    nothing to read back), or None when it existed (``load_plan`` reads it)."""
    row = await conn.fetchrow(
        "INSERT INTO courses(id, patient_id, patient_time_zone) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO NOTHING"
        " RETURNING id, patient_id, patient_time_zone, status, route, protocol_version, 0 AS doses,"
        " NULL::timestamptz AS last_dose_at, '{}'::date[] AS days, false AS outstanding,"
        " false AS last_held, false AS open_dosing",
        course_id,
        patient_id,
        zone,
    )
    return None if row is None else _plan(row)


async def lock_course(conn: asyncpg.Connection, course_id: UUID, with_timers: bool = True) -> CoursePlan:
    """Lock the course for this transaction: its pending timers first (the timer worker's order), then
    the course row. Timer handlers pass ``with_timers=False``: they already hold their timer."""
    if with_timers:
        await timers.lock(conn, timer_keys.course(course_id))
    if await conn.fetchval("SELECT true FROM courses WHERE id = $1 FOR UPDATE", course_id) is None:
        raise RuleViolation(["course_id"], "course_not_found", f"no course {course_id}", 404)
    return await load_plan(conn, course_id)


async def load_plan(conn: asyncpg.Connection | asyncpg.Pool, course_id: UUID) -> CoursePlan:
    row = await conn.fetchrow(
        "SELECT c.id, c.patient_id, c.patient_time_zone, c.status, c.route, c.protocol_version,"
        " (SELECT count(*) FROM sessions s WHERE s.course_id = c.id) AS doses,"
        " (SELECT max(administered_at) FROM sessions s WHERE s.course_id = c.id) AS last_dose_at,"
        " (SELECT coalesce(array_agg(dose_day), '{}') FROM sessions s WHERE s.course_id = c.id) AS days,"
        " EXISTS (SELECT 1 FROM sessions s WHERE s.course_id = c.id AND s.integration_held_at IS NULL)"
        "   AS outstanding,"
        " (SELECT s.integration_held_at IS NOT NULL FROM sessions s WHERE s.course_id = c.id"
        "   ORDER BY dose_number DESC LIMIT 1) AS last_held,"
        " EXISTS (SELECT 1 FROM appointments a WHERE a.course_id = c.id AND a.kind = 'dosing'"
        "   AND a.status = ANY($2::text[])) AS open_dosing"
        " FROM courses c WHERE c.id = $1",
        course_id,
        RESERVING_SQL,
    )
    if row is None:
        raise RuleViolation(["course_id"], "course_not_found", f"no course {course_id}", 404)
    return _plan(row)


def _plan(row: asyncpg.Record) -> CoursePlan:
    return CoursePlan(
        id=row["id"],
        patient_id=row["patient_id"],
        patient_time_zone=row["patient_time_zone"],
        status=CourseStatus(row["status"]),
        route=Route(row["route"]) if row["route"] else None,
        protocol_version=row["protocol_version"],
        doses_given=int(row["doses"]),
        last_dose_at=row["last_dose_at"],
        dose_days=frozenset(row["days"]),
        integration_outstanding=bool(row["outstanding"]),
        last_integration_held=bool(row["last_held"]),
        open_dosing=bool(row["open_dosing"]),
    )


async def prepare_course(
    conn: asyncpg.Connection, course_id: UUID, route: Route, protocol: str, now: datetime
) -> bool:
    """Record the route and pinned protocol; False when the course was prepared already."""
    done = await conn.fetchval(
        "UPDATE courses SET route = $2, protocol_version = $3, prepared_at = $4,"
        " status = CASE WHEN status = 'open' THEN 'dosing' ELSE status END"
        " WHERE id = $1 AND prepared_at IS NULL RETURNING true",
        course_id,
        route.value,
        protocol,
        now,
    )
    return bool(done)


async def set_status(
    conn: asyncpg.Connection, course_id: UUID, status: CourseStatus, now: datetime | None = None
) -> None:
    await conn.execute(
        "UPDATE courses SET status = $2, completed_at = coalesce($3, completed_at) WHERE id = $1",
        course_id,
        status.value,
        now if status is CourseStatus.COMPLETED else None,
    )


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


async def get_appointment(conn: asyncpg.Connection | asyncpg.Pool, appointment_id: UUID) -> Appointment:
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


async def waitlist(
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


async def longest_waiting(conn: asyncpg.Connection, kind: str) -> int | None:
    """The id of the look timer of the booking of ``kind`` that has waited longest, locked; one being
    fired right now is skipped."""
    timer_id: int | None = await conn.fetchval(
        "SELECT id FROM timers WHERE kind = $1 AND status = 'pending' AND payload->>'kind' = $2"
        " ORDER BY (payload->>'since')::timestamptz, id LIMIT 1 FOR UPDATE SKIP LOCKED",
        timer_keys.BOOKING_RETRY,
        kind,
    )
    return timer_id


async def open_appointments(conn: asyncpg.Connection, course_id: UUID) -> list[Appointment]:
    rows = await conn.fetch(
        _APPOINTMENT_SQL + " WHERE a.course_id = $1 AND a.status = ANY($2::text[]) ORDER BY lower(a.during)",
        course_id,
        RESERVING_SQL,
    )
    return [_appointment(r) for r in rows]


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


async def set_status_of(
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


async def insert_session(conn: asyncpg.Connection, session_id: UUID, fields: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO sessions(id, appointment_id, course_id, dose_number, route, protocol_version, dose_mg,"
        " dose_mg_per_kg, dose_day, pre_dose_systolic, pre_dose_diastolic, administered_by, administered_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        session_id,
        fields["appointment_id"],
        fields["course_id"],
        fields["dose_number"],
        fields["route"],
        fields["protocol_version"],
        fields["dose_mg"],
        fields["dose_mg_per_kg"],
        fields["dose_day"],
        fields["pre_dose_systolic"],
        fields["pre_dose_diastolic"],
        fields["administered_by"],
        fields["administered_at"],
    )


async def session_of(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    appointment_id: UUID | None = None,
    session_id: UUID | None = None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT * FROM sessions WHERE ($1::uuid IS NULL OR appointment_id = $1)"
        " AND ($2::uuid IS NULL OR id = $2)",
        appointment_id,
        session_id,
    )
    if row is None:
        raise RuleViolation(["session_id"], "session_not_found", "no session record for this", 404)
    return row


async def discharge(
    conn: asyncpg.Connection,
    session_id: UUID,
    details: dict[str, Any],
    by: str,
    window: Window,
    now: datetime,
) -> None:
    await conn.execute(
        "UPDATE sessions SET monitoring_ended_at = $2, vitals = $3, adverse_events = $4, discharged_by = $5,"
        " integration_opens_at = $6, integration_closes_at = $7, integration_due_at = $8 WHERE id = $1",
        session_id,
        now,
        json.dumps(details["vitals"]),
        json.dumps(details["adverse_events"]),
        by,
        window.opens_at,
        window.closes_at,
        window.due_at,
    )


async def integration_held(conn: asyncpg.Connection, session_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE sessions SET integration_held_at = $2 WHERE id = $1 AND integration_held_at IS NULL",
        session_id,
        now,
    )


async def integration_overdue(conn: asyncpg.Connection, session_id: UUID, now: datetime) -> bool:
    """Mark the session's integration overdue; False if it was held meanwhile."""
    done = await conn.fetchval(
        "UPDATE sessions SET integration_overdue_at = $2 WHERE id = $1 AND integration_held_at IS NULL"
        " RETURNING true",
        session_id,
        now,
    )
    return bool(done)


async def latest_unintegrated(conn: asyncpg.Connection, course_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM sessions WHERE course_id = $1 AND integration_held_at IS NULL"
        " AND monitoring_ended_at IS NOT NULL ORDER BY dose_number DESC LIMIT 1",
        course_id,
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


async def sessions_of_course(pool: asyncpg.Pool, course_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT id, appointment_id, dose_number, route, protocol_version, administered_at,"
        " monitoring_ended_at, jsonb_array_length(adverse_events) > 0 AS adverse_events, administered_by,"
        " discharged_by,"
        " integration_opens_at, integration_closes_at, integration_held_at, integration_overdue_at"
        " FROM sessions WHERE course_id = $1 ORDER BY dose_number",
        course_id,
    )
    return rows


async def appointments_of_course(
    conn: asyncpg.Connection | asyncpg.Pool, course_id: UUID
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, course_id, kind, clinician_id, room_id, lower(during) AS starts_at,"
        " upper(during) AS ends_at, status FROM appointments WHERE course_id = $1 ORDER BY lower(during)",
        course_id,
    )
    return rows
