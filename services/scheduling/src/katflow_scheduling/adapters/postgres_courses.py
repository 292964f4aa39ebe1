"""scheduling's course rows: the course plan as decisions read it, its lock, its preparation and status
(SQL with parameters only)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from katflow_shared import timers
from katflow_shared.contracts.common import Route
from katflow_shared.db import wrote
from katflow_shared.errors import RuleViolation

from ..domain import timer_keys
from ..domain.course import CoursePlan, CourseStatus
from .postgres_appointments import RESERVING_SQL


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
    return await wrote(
        conn,
        "UPDATE courses SET route = $2, protocol_version = $3, prepared_at = $4,"
        " status = CASE WHEN status = 'open' THEN 'dosing' ELSE status END"
        " WHERE id = $1 AND prepared_at IS NULL RETURNING true",
        course_id,
        route.value,
        protocol,
        now,
    )


async def set_status(
    conn: asyncpg.Connection, course_id: UUID, status: CourseStatus, now: datetime | None = None
) -> None:
    await conn.execute(
        "UPDATE courses SET status = $2, completed_at = coalesce($3, completed_at) WHERE id = $1",
        course_id,
        status.value,
        now if status is CourseStatus.COMPLETED else None,
    )
