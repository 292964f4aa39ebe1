"""scheduling's tables: clinicians, rooms, courses, appointments."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from uuid import UUID

import asyncpg

from ..domain.clinic import ClinicConfig
from ..domain.slots import Interval, Slot


async def sync_clinic(conn: asyncpg.Pool, clinic: ClinicConfig) -> None:
    """Make the clinicians and rooms tables match the configuration file."""
    await conn.executemany(
        "INSERT INTO clinicians(id, display_name, roles) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, roles = EXCLUDED.roles",
        [(c.id, c.display_name, c.roles) for c in clinic.clinicians],
    )
    await conn.executemany(
        "INSERT INTO rooms(id, display_name) VALUES ($1, $2)"
        " ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name",
        [(r.id, r.display_name) for r in clinic.rooms],
    )


CALENDAR_LOCK = 0x63616C656E646172  # "calendar"


async def lock_calendar(conn: asyncpg.Connection) -> None:
    """Serialise bookings until the transaction ends. Without it, concurrent partition workers all
    pick the same first free slot, all but one hit the exclusion constraint (or deadlock on it) and
    back off: measured, that stalled booking for tens of seconds under load."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", CALENDAR_LOCK)


async def ensure_course(conn: asyncpg.Connection, course_id: UUID, patient_id: UUID, zone: str) -> None:
    await conn.execute(
        "INSERT INTO courses(id, patient_id, patient_time_zone) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO NOTHING",
        course_id,
        patient_id,
        zone,
    )


async def busy_intervals(
    conn: asyncpg.Connection, clinician_ids: list[str], since: datetime
) -> dict[str, list[Interval]]:
    rows = await conn.fetch(
        "SELECT clinician_id, lower(during) AS s, upper(during) AS e FROM appointments"
        " WHERE status IN ('scheduled', 'checked_in', 'in_monitoring') AND clinician_id = ANY($1)"
        " AND upper(during) > $2",
        clinician_ids,
        since,
    )
    busy: dict[str, list[Interval]] = defaultdict(list)
    for row in rows:
        busy[row["clinician_id"]].append(Interval(row["s"], row["e"]))
    return busy


async def insert_appointment(
    conn: asyncpg.Connection,
    appointment_id: UUID,
    course_id: UUID,
    kind: str,
    slot: Slot,
    room_id: str | None,
    cause_event: str,
) -> None:
    await conn.execute(
        "INSERT INTO appointments(id, course_id, kind, clinician_id, room_id, during, cause_event)"
        " VALUES ($1, $2, $3, $4, $5, tstzrange($6, $7), $8)",
        appointment_id,
        course_id,
        kind,
        slot.clinician_id,
        room_id,
        slot.start,
        slot.end,
        cause_event,
    )


async def appointments_of_course(
    conn: asyncpg.Connection | asyncpg.Pool, course_id: UUID
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, course_id, kind, clinician_id, room_id, lower(during) AS starts_at,"
        " upper(during) AS ends_at, status FROM appointments WHERE course_id = $1 ORDER BY lower(during)",
        course_id,
    )
    return rows
