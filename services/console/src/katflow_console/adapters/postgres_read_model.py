"""The console's read model tables: course events, today's board, patient names, alerts."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared.contracts.patient_contact import PatientContactUpdated

from ..domain.board import Alert


async def save_event(
    conn: asyncpg.Connection, event_id: str, course_id: UUID, type_: str, at: datetime, data: str
) -> None:
    await conn.execute(
        "INSERT INTO course_events (event_id, course_id, type, occurred_at, data)"
        " VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING",
        event_id,
        course_id,
        type_,
        at,
        data,
    )


async def save_name(conn: asyncpg.Connection, e: PatientContactUpdated) -> None:
    """A patient's name and date of birth, the latest version winning (what staff search by)."""
    await conn.execute(
        "INSERT INTO patient_names (patient_id, given_name, family_name, updated_at, date_of_birth)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (patient_id) DO UPDATE SET given_name = $2,"
        " family_name = $3, updated_at = $4, date_of_birth = $5 WHERE patient_names.updated_at <= $4",
        e.patient_id,
        e.given_name,
        e.family_name,
        e.updated_at,
        e.date_of_birth,
    )


async def find_patients(pool: asyncpg.Pool, name: str, born: date | None) -> list[asyncpg.Record]:
    """Patients whose given or family name starts with ``name`` (and born on ``born``), with courses."""
    return await pool.fetch(  # type: ignore[no-any-return]
        "SELECT n.patient_id, n.given_name, n.family_name, n.date_of_birth,"
        " array_remove(array_agg(c.course_id), NULL) AS courses FROM patient_names n"
        " LEFT JOIN course_patients c USING (patient_id)"
        " WHERE (lower(n.family_name) LIKE $1 OR lower(n.given_name) LIKE $1)"
        " AND ($2::date IS NULL OR n.date_of_birth = $2)"
        " GROUP BY n.patient_id ORDER BY n.family_name, n.given_name LIMIT 50",
        name.lower().replace("%", "").replace("_", "") + "%",
        born,
    )


async def save_course_patient(conn: asyncpg.Connection, course_id: UUID, patient_id: str) -> None:
    await conn.execute(
        "INSERT INTO course_patients VALUES ($1, $2) ON CONFLICT DO NOTHING", course_id, UUID(patient_id)
    )


async def upsert_appointment(conn: asyncpg.Connection, d: dict[str, Any], at: datetime) -> None:
    """AppointmentScheduled (every field) or AppointmentRescheduled (the new times)."""
    await conn.execute(
        "INSERT INTO board_appointments VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'scheduled', $9)"
        " ON CONFLICT (appointment_id) DO UPDATE SET starts_at = $7, ends_at = $8,"
        " status = 'scheduled', status_at = $9",
        UUID(d["appointment_id"]),
        UUID(d["course_id"]),
        UUID(d["patient_id"]),
        d["kind"],
        d.get("clinician_id") or "",
        d.get("room_id"),
        datetime.fromisoformat(d["starts_at"]),
        datetime.fromisoformat(d["ends_at"]),
        at,
    )


async def set_status(conn: asyncpg.Connection, appointment_id: str | UUID, status: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE board_appointments SET status = $2, status_at = $3 WHERE appointment_id = $1",
        UUID(str(appointment_id)),
        status,
        at,
    )


async def set_course_status(
    conn: asyncpg.Connection, course_id: str, kind: str, status: str, at: datetime
) -> None:
    """The course's open appointment of ``kind`` (monitoring prompts name the course, not the visit)."""
    await conn.execute(
        "UPDATE board_appointments SET status = $3,"  # monitoring's minutes count from its start
        " status_at = CASE WHEN status = 'checked_in' THEN $4 ELSE status_at END"
        " WHERE course_id = $1 AND kind = $2"
        " AND status IN ('checked_in', 'in_monitoring', 'discharge_ready')",
        UUID(course_id),
        kind,
        status,
        at,
    )


async def raise_alert(
    conn: asyncpg.Connection, event_id: str, course_id: UUID, a: Alert, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO alerts (event_id, course_id, kind, urgent, raised_at, summary)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        event_id,
        course_id,
        a.kind,
        a.urgent,
        at,
        a.summary,
    )


async def day_board(pool: asyncpg.Pool, start: datetime, end: datetime) -> list[asyncpg.Record]:
    return await pool.fetch(  # type: ignore[no-any-return]
        "SELECT a.*, n.given_name, n.family_name FROM board_appointments a"
        " LEFT JOIN patient_names n USING (patient_id)"
        " WHERE a.starts_at >= $1 AND a.starts_at < $2 ORDER BY a.clinician_id, a.starts_at",
        start,
        end,
    )


async def appointment(pool: asyncpg.Pool, appointment_id: UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT a.*, n.given_name, n.family_name FROM board_appointments a"
        " LEFT JOIN patient_names n USING (patient_id) WHERE appointment_id = $1",
        appointment_id,
    )


async def readiness(pool: asyncpg.Pool, course_id: UUID, appointment_id: UUID) -> dict[str, Any] | None:
    """The patient's latest morning-of confirmation of a visit from their page (ReadinessConfirmed)."""
    row = await pool.fetchrow(
        "SELECT data, occurred_at FROM course_events WHERE course_id = $1 AND type = 'ReadinessConfirmed'"
        " AND data->>'appointment_id' = $2 ORDER BY occurred_at DESC LIMIT 1",
        course_id,
        str(appointment_id),
    )
    if row is None:
        return None
    data = json.loads(row["data"]) if isinstance(row["data"], str) else dict(row["data"])
    return {**data, "occurred_at": row["occurred_at"]}


async def timeline(pool: asyncpg.Pool, course_id: UUID) -> list[asyncpg.Record]:
    return await pool.fetch(  # type: ignore[no-any-return]
        "SELECT type, occurred_at, data FROM course_events WHERE course_id = $1"
        " ORDER BY received_at, occurred_at",  # as they arrived: a course's events are in key order
        course_id,
    )


async def checks_prompted(pool: asyncpg.Pool, course_id: UUID, since: datetime) -> list[dict[str, Any]]:
    """The monitoring prompts of a course since a visit began (check and when it fell due)."""
    rows = await pool.fetch(
        "SELECT data FROM course_events WHERE course_id = $1 AND type = 'MonitoringCheckDue'"
        " AND occurred_at >= $2 ORDER BY occurred_at",
        course_id,
        since,
    )
    found = [json.loads(r["data"]) for r in rows]
    return [{"check": d["check"], "due_at": datetime.fromisoformat(d["due_at"])} for d in found]


async def recently_resolved(pool: asyncpg.Pool, since: datetime) -> list[asyncpg.Record]:
    return await pool.fetch(  # type: ignore[no-any-return]
        "SELECT * FROM alerts WHERE resolved_at >= $1 ORDER BY resolved_at DESC LIMIT 50", since
    )


async def course_patient(pool: asyncpg.Pool, course_id: UUID) -> asyncpg.Record | None:
    return await pool.fetchrow(
        "SELECT c.patient_id, n.given_name, n.family_name FROM course_patients c"
        " LEFT JOIN patient_names n USING (patient_id) WHERE c.course_id = $1",
        course_id,
    )


async def open_alerts(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch(  # type: ignore[no-any-return]
        "SELECT * FROM alerts WHERE resolved_at IS NULL ORDER BY urgent DESC, raised_at"
    )


ACKNOWLEDGE = (
    "UPDATE alerts SET acknowledged_by = $2, acknowledged_at = $3"
    " WHERE event_id = $1 AND acknowledged_at IS NULL"
)
RESOLVE = "UPDATE alerts SET resolved_by = $2, resolved_at = $3 WHERE event_id = $1 AND resolved_at IS NULL"


async def act_on_alert(pool: asyncpg.Pool, event_id: str, action: str, who: str, at: datetime) -> bool:
    if action == "resolve":
        done = await pool.execute(RESOLVE, event_id, who, at)
    else:
        done = await pool.execute(ACKNOWLEDGE, event_id, who, at)
    return bool(done != "UPDATE 0")


async def record_visit(
    pool: asyncpg.Pool, appointment_id: UUID, fields: dict[str, Any], at: datetime
) -> None:
    await pool.execute(
        "INSERT INTO visit_records VALUES ($1, $2::jsonb, $3) ON CONFLICT (appointment_id)"
        " DO UPDATE SET fields = visit_records.fields || $2::jsonb, updated_at = $3",
        appointment_id,
        json.dumps(fields),
        at,
    )


async def visit_record(pool: asyncpg.Pool, appointment_id: UUID) -> dict[str, Any]:
    found = await pool.fetchval("SELECT fields FROM visit_records WHERE appointment_id = $1", appointment_id)
    return dict(json.loads(found)) if found else {}


async def session_of(pool: asyncpg.Pool, appointment_id: UUID) -> dict[str, Any] | None:
    """The SessionAdministered of a dosing appointment, if it happened."""
    found = await pool.fetchval(
        "SELECT data FROM course_events WHERE type = 'SessionAdministered' AND data->>'appointment_id' = $1",
        str(appointment_id),
    )
    return dict(json.loads(found)) if found else None


async def date_of_birth(pool: asyncpg.Pool, patient_id: UUID) -> date | None:
    born: date | None = await pool.fetchval(
        "SELECT date_of_birth FROM patient_names WHERE patient_id = $1", patient_id
    )
    return born
