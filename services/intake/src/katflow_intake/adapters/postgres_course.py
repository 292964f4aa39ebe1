"""intake's course tables: screenings, decisions, urgent alerts, the preparation checklist."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared.contracts.common import Route
from katflow_shared.db import wrote
from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import Contraindication

from ..domain.course import Course, Phase
from ..domain.preparation import Checklist
from ..domain.screening import Assessment, ScreeningIn


async def lock_course(conn: asyncpg.Connection, course_id: UUID) -> Course:
    """The course row, locked until the transaction ends (serialises staff actions on a course)."""
    return _course(await conn.fetchrow(_COURSE_SQL + " FOR UPDATE OF c", course_id), course_id)


async def get_course(conn: asyncpg.Connection | asyncpg.Pool, course_id: UUID) -> Course:
    return _course(await conn.fetchrow(_COURSE_SQL, course_id), course_id)


_COURSE_SQL = (
    "SELECT c.id, c.patient_id, p.time_zone, c.phase, c.route, c.protocol_version, c.halted_at,"
    " c.prepared_at FROM courses c JOIN patients p ON p.id = c.patient_id WHERE c.id = $1"
)


def _course(row: asyncpg.Record | None, course_id: UUID) -> Course:
    if row is None:
        raise RuleViolation(["course_id"], "course_not_found", f"no course {course_id}", 404)
    return Course(
        row["id"],
        row["patient_id"],
        row["time_zone"],
        Phase(row["phase"]),
        Route(row["route"]) if row["route"] else None,
        row["protocol_version"],
        row["halted_at"],
        row["prepared_at"],
    )


async def insert_screening(
    conn: asyncpg.Connection,
    course_id: UUID,
    body: ScreeningIn,
    a: Assessment,
    rules: str,
    by: str,
    now: datetime,
) -> UUID:
    screening_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO screenings(id, course_id, phq9, gad7, pcl5, cssrs, systolic, diastolic,"
        " contraindications, blocking, review_flags, high_risk, rules_version, screened_by, screened_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        screening_id,
        course_id,
        body.phq9,
        body.gad7,
        body.pcl5,
        body.cssrs.model_dump_json(),
        body.blood_pressure.systolic,
        body.blood_pressure.diastolic,
        [c.value for c in body.contraindications],
        [c.value for c in a.blocking],
        a.review_flags,
        a.high_risk,
        rules,
        by,
        now,
    )
    return screening_id


async def latest_screening(conn: asyncpg.Connection, course_id: UUID) -> tuple[UUID, Assessment] | None:
    row = await conn.fetchrow(
        "SELECT id, high_risk, blocking, review_flags FROM screenings WHERE course_id = $1"
        " ORDER BY screened_at DESC, id LIMIT 1",
        course_id,
    )
    if row is None:
        return None
    blocking = [Contraindication(c) for c in row["blocking"]]
    return row["id"], Assessment(row["high_risk"], blocking, list(row["review_flags"]))


async def set_phase(conn: asyncpg.Connection, course_id: UUID, phase: Phase) -> None:
    await conn.execute("UPDATE courses SET phase = $2 WHERE id = $1", course_id, phase.value)


async def halt(conn: asyncpg.Connection, course_id: UUID, screening_id: UUID, now: datetime) -> UUID:
    alert_id = uuid.uuid4()
    await conn.execute("UPDATE courses SET halted_at = $2 WHERE id = $1", course_id, now)
    await conn.execute(
        "INSERT INTO urgent_alerts(id, course_id, screening_id, raised_at) VALUES ($1, $2, $3, $4)",
        alert_id,
        course_id,
        screening_id,
        now,
    )
    return alert_id


async def resolve_alerts(
    conn: asyncpg.Connection, course_id: UUID, decision: str, by: str, now: datetime
) -> int:
    result = await conn.execute(
        "UPDATE urgent_alerts SET resolved_at = $2, resolved_by = $3, decision = $4"
        " WHERE course_id = $1 AND resolved_at IS NULL",
        course_id,
        now,
        by,
        decision,
    )
    await conn.execute("UPDATE courses SET halted_at = NULL WHERE id = $1", course_id)
    return int(result.split()[-1])


async def insert_decision(
    conn: asyncpg.Connection,
    course_id: UUID,
    screening_id: UUID | None,
    decision: dict[str, Any],
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO eligibility_decisions(id, course_id, screening_id, outcome, route, protocol_version,"
        " decided_by, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        uuid.uuid4(),
        course_id,
        screening_id,
        decision["outcome"],
        decision["route"],
        decision["protocol_version"],
        decision["decided_by"],
        now,
    )
    await conn.execute(
        "UPDATE courses SET route = $2, protocol_version = $3 WHERE id = $1 AND $2::text IS NOT NULL",
        course_id,
        decision["route"],
        decision["protocol_version"],
    )


async def add_session(
    conn: asyncpg.Connection, course_id: UUID, details: dict[str, Any], now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO preparation_sessions(id, course_id, held_on, clinician_id, recorded_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        uuid.uuid4(),
        course_id,
        details["held_on"],
        details["clinician_id"],
        now,
    )


async def put_item(
    conn: asyncpg.Connection, course_id: UUID, item: str, details: dict[str, Any], by: str, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO preparation_items(course_id, item, details, recorded_by, recorded_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (course_id, item) DO UPDATE SET"
        " details = EXCLUDED.details, recorded_by = EXCLUDED.recorded_by, recorded_at = EXCLUDED.recorded_at",
        course_id,
        item,
        json.dumps(details, default=str),
        by,
        now,
    )


async def checklist(conn: asyncpg.Connection | asyncpg.Pool, course_id: UUID) -> Checklist:
    held = await conn.fetchval("SELECT count(*) FROM preparation_sessions WHERE course_id = $1", course_id)
    items = await conn.fetch("SELECT item FROM preparation_items WHERE course_id = $1", course_id)
    return Checklist(int(held), frozenset(r["item"] for r in items))


async def mark_prepared(conn: asyncpg.Connection, course_id: UUID, now: datetime) -> bool:
    """Set prepared_at once; False when it was already set (PreparationCompleted is sent once)."""
    return await wrote(
        conn,
        "UPDATE courses SET prepared_at = $2, phase = 'prepared' WHERE id = $1 AND prepared_at IS NULL"
        " RETURNING true",
        course_id,
        now,
    )
