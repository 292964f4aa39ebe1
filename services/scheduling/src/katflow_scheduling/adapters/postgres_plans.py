"""scheduling's series plans: the planned day of each dose, and planned against booked (SQL with
parameters only)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from uuid import UUID

import asyncpg


async def planned_days(conn: asyncpg.Connection, course_id: UUID) -> dict[int, date]:
    rows = await conn.fetch("SELECT dose_number, planned_day FROM dose_plans WHERE course_id = $1", course_id)
    return {r["dose_number"]: r["planned_day"] for r in rows}


async def save(
    conn: asyncpg.Connection, course_id: UUID, phase: str, days: Mapping[int, date], now: datetime
) -> None:
    """Plan (or plan again) the given doses; other doses' rows stay as they are."""
    await conn.executemany(
        "INSERT INTO dose_plans(course_id, dose_number, phase, planned_day, planned_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (course_id, dose_number) DO UPDATE"
        " SET phase = EXCLUDED.phase, planned_day = EXCLUDED.planned_day, planned_at = EXCLUDED.planned_at",
        [(course_id, number, phase, day, now) for number, day in days.items()],
    )


async def doses_of_course(pool: asyncpg.Pool, course_id: UUID, zone: str) -> list[asyncpg.Record]:
    """Each planned or booked dose: its phase and planned day, and the day and status of its latest
    dosing appointment (in ``zone``, the clinic's)."""
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT coalesce(p.dose_number, a.dose_number) AS dose_number, p.phase, p.planned_day,"
        " (lower(a.during) AT TIME ZONE $2)::date AS booked_day, a.id AS appointment_id,"
        " a.status AS appointment_status"
        " FROM (SELECT * FROM dose_plans WHERE course_id = $1) p FULL JOIN"
        " (SELECT DISTINCT ON (dose_number) * FROM appointments WHERE course_id = $1 AND kind = 'dosing'"
        "  ORDER BY dose_number, status IN ('cancelled', 'missed'), lower(during) DESC) a"
        " ON a.dose_number = p.dose_number ORDER BY 1",
        course_id,
        zone,
    )
    return rows
