"""The clinic's tables: the clinic row (settings, opening hours), clinicians, rooms, closures and
time off; the seed import; the clinic version every change bumps (SQL with parameters only)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared.db import wrote

from ..domain.clinic import ClinicConfig, Clinician, Hours, Room, TimeOff

CHANNEL = "katflow_clinic"  # NOTIFY at commit of a change: other processes reload their snapshot
_LISTS = {"clinic_id", "opening_hours", "clinicians", "rooms", "closures"}


def _hours(hours: Hours | None) -> str | None:
    if hours is None:
        return None
    return json.dumps({day: [t.isoformat() for t in span] for day, span in hours.items()})


async def has_clinic(conn: asyncpg.Connection, clinic_id: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM clinics WHERE id = $1)", clinic_id))


async def import_seed(conn: asyncpg.Connection, seed: ClinicConfig) -> None:
    """Write the seed as the clinic (its clinicians and rooms upserted: a database from before the
    clinic was data has them already, referenced by appointments)."""
    settings = seed.model_dump_json(exclude=_LISTS)
    await conn.execute(
        "INSERT INTO clinics(id, settings, opening_hours) VALUES ($1, $2::jsonb, $3::jsonb)",
        seed.clinic_id,
        settings,
        _hours(seed.opening_hours),
    )
    for clinician in seed.clinicians:
        await upsert_clinician(conn, seed.clinic_id, clinician)
    for room in seed.rooms:
        await upsert_room(conn, seed.clinic_id, room)
    for day, label in seed.closures.items():
        await add_closure(conn, seed.clinic_id, day, label)


async def load(conn: asyncpg.Connection, clinic_id: str) -> tuple[ClinicConfig, int]:
    """The clinic as it stands, and its version."""
    row = await conn.fetchrow("SELECT settings, opening_hours FROM clinics WHERE id = $1", clinic_id)
    if row is None:
        raise LookupError(f"clinic {clinic_id!r} is not in the database")
    off: dict[str, list[TimeOff]] = defaultdict(list)
    for t in await conn.fetch(
        "SELECT id, clinician_id, first_day, last_day FROM time_off WHERE clinic_id = $1 ORDER BY first_day",
        clinic_id,
    ):
        off[t["clinician_id"]].append(TimeOff(id=t["id"], first_day=t["first_day"], last_day=t["last_day"]))
    clinicians = [
        Clinician(
            id=r["id"],
            display_name=r["display_name"],
            roles=list(r["roles"]),
            qualifications=list(r["qualifications"]),
            hours=json.loads(r["hours"]) if r["hours"] else None,
            time_off=off[r["id"]],
        )
        for r in await conn.fetch("SELECT * FROM clinicians WHERE clinic_id = $1 ORDER BY seq", clinic_id)
    ]
    rooms = [
        Room(id=r["id"], display_name=r["display_name"], capabilities=list(r["capabilities"]))
        for r in await conn.fetch("SELECT * FROM rooms WHERE clinic_id = $1 ORDER BY seq", clinic_id)
    ]
    closures = {
        r["day"]: r["label"]
        for r in await conn.fetch("SELECT day, label FROM closures WHERE clinic_id = $1", clinic_id)
    }
    fields: dict[str, Any] = json.loads(row["settings"])
    fields |= {"clinic_id": clinic_id, "opening_hours": json.loads(row["opening_hours"])}
    fields |= {"clinicians": clinicians, "rooms": rooms, "closures": closures}
    return ClinicConfig.model_validate(fields), await version(conn)


async def version(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT clinic_version FROM calendar_generation"))


async def changed(conn: asyncpg.Connection) -> int:
    """Mark a change in this transaction: a new clinic version, no watermark trusted any more, and a
    NOTIFY for the other processes at commit. Returns the new version."""
    new = await conn.fetchval(
        "UPDATE calendar_generation SET generation = generation + 1, clinic_version = clinic_version + 1"
        " RETURNING clinic_version"
    )
    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(new))
    return int(new)


async def upsert_clinician(conn: asyncpg.Connection, clinic_id: str, c: Clinician) -> None:
    await conn.execute(
        "INSERT INTO clinicians(id, clinic_id, display_name, roles, qualifications, hours)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (id) DO UPDATE SET"
        " clinic_id = EXCLUDED.clinic_id, display_name = EXCLUDED.display_name, roles = EXCLUDED.roles,"
        " qualifications = EXCLUDED.qualifications, hours = EXCLUDED.hours",
        c.id,
        clinic_id,
        c.display_name,
        c.roles,
        c.qualifications,
        _hours(c.hours),
    )


async def upsert_room(conn: asyncpg.Connection, clinic_id: str, r: Room) -> None:
    await conn.execute(
        "INSERT INTO rooms(id, clinic_id, display_name, capabilities) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO UPDATE SET clinic_id = EXCLUDED.clinic_id,"
        " display_name = EXCLUDED.display_name, capabilities = EXCLUDED.capabilities",
        r.id,
        clinic_id,
        r.display_name,
        r.capabilities,
    )


async def set_opening_hours(conn: asyncpg.Connection, clinic_id: str, hours: Hours) -> None:
    await conn.execute("UPDATE clinics SET opening_hours = $2::jsonb WHERE id = $1", clinic_id, _hours(hours))


async def add_closure(conn: asyncpg.Connection, clinic_id: str, day: date, label: str) -> bool:
    """False when the day was closed already."""
    return await wrote(
        conn,
        "INSERT INTO closures(clinic_id, day, label) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        clinic_id,
        day,
        label,
    )


async def remove_closure(conn: asyncpg.Connection, clinic_id: str, day: date) -> bool:
    return await wrote(
        conn, "DELETE FROM closures WHERE clinic_id = $1 AND day = $2 RETURNING true", clinic_id, day
    )


async def add_time_off(conn: asyncpg.Connection, clinic_id: str, clinician_id: str, off: TimeOff) -> None:
    await conn.execute(
        "INSERT INTO time_off(id, clinic_id, clinician_id, first_day, last_day) VALUES ($1, $2, $3, $4, $5)",
        off.id,
        clinic_id,
        clinician_id,
        off.first_day,
        off.last_day,
    )


async def remove_time_off(conn: asyncpg.Connection, clinician_id: str, time_off_id: UUID) -> bool:
    return await wrote(
        conn,
        "DELETE FROM time_off WHERE id = $1 AND clinician_id = $2 RETURNING true",
        time_off_id,
        clinician_id,
    )


async def booked_between(
    conn: asyncpg.Connection,
    since: datetime,
    until: datetime,
    clinician_id: str | None = None,
    room_id: str | None = None,
) -> list[UUID]:
    """Scheduled appointments starting in [since, until), of one clinician (in one room) or of all,
    in time order."""
    rows = await conn.fetch(
        "SELECT id FROM appointments WHERE status = 'scheduled' AND during && tstzrange($1, $2)"
        " AND lower(during) >= $1 AND ($3::text IS NULL OR clinician_id = $3)"
        " AND ($4::text IS NULL OR room_id = $4) ORDER BY lower(during), id",
        since,
        until,
        clinician_id,
        room_id,
    )
    return [r["id"] for r in rows]
