"""Staff members known from scheduling's events (ClinicianUpdated): ids only, no address. The staff
directory file (``domain.staff``) is read first; this table only adds the people it does not list."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from katflow_shared.contracts import ClinicianUpdated
from katflow_shared.db import Part

UPSERT_MEMBER = (
    "INSERT INTO staff_members AS s (id, clinic_id, first_seen_at, changed_at) VALUES ($1, $2, $3, $3)"
    " ON CONFLICT (id) DO UPDATE SET clinic_id = EXCLUDED.clinic_id,"
    " first_seen_at = LEAST(s.first_seen_at, EXCLUDED.first_seen_at),"
    " changed_at = GREATEST(s.changed_at, EXCLUDED.changed_at)"
)


def member_row(e: ClinicianUpdated) -> Part:
    """The clinician, known from now on (a redelivered or older event changes nothing that matters)."""
    return UPSERT_MEMBER, (e.clinician_id, e.clinic_id, e.changed_at)


async def listed(db: asyncpg.Connection | asyncpg.Pool, staff_ids: Iterable[str]) -> set[str]:
    """Those of ``staff_ids`` known from events."""
    wanted = sorted(set(staff_ids))
    if not wanted:
        return set()
    rows = await db.fetch("SELECT id FROM staff_members WHERE id = ANY($1::text[])", wanted)
    return {r["id"] for r in rows}


async def known(db: asyncpg.Connection | asyncpg.Pool, staff_id: str) -> bool:
    return staff_id in await listed(db, [staff_id])
