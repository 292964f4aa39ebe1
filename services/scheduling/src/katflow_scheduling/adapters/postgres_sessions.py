"""scheduling's session records (one per dose given): administration, discharge and the dose's
integration window (SQL with parameters only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared.db import wrote
from katflow_shared.errors import RuleViolation

from ..domain.integration import Window


async def insert(conn: asyncpg.Connection, session_id: UUID, fields: dict[str, Any]) -> None:
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


async def get(
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
    return await wrote(
        conn,
        "UPDATE sessions SET integration_overdue_at = $2 WHERE id = $1 AND integration_held_at IS NULL"
        " RETURNING true",
        session_id,
        now,
    )


async def latest_unintegrated(conn: asyncpg.Connection, course_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM sessions WHERE course_id = $1 AND integration_held_at IS NULL"
        " AND monitoring_ended_at IS NOT NULL ORDER BY dose_number DESC LIMIT 1",
        course_id,
    )


async def of_course(pool: asyncpg.Pool, course_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT id, appointment_id, dose_number, route, protocol_version, administered_at,"
        " monitoring_ended_at, jsonb_array_length(adverse_events) > 0 AS adverse_events, administered_by,"
        " discharged_by,"
        " integration_opens_at, integration_closes_at, integration_held_at, integration_overdue_at"
        " FROM sessions WHERE course_id = $1 ORDER BY dose_number",
        course_id,
    )
    return rows
