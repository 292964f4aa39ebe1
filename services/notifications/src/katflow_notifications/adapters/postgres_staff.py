"""Staff members known from scheduling's events (ClinicianUpdated): ids only, no address; and the
staff directory's one look-up, ``member``: the directory file (``domain.staff``) first, which wins
when both know a person, then this table, whose people are feed-only members."""

from __future__ import annotations

import asyncpg

from katflow_shared.contracts import ClinicianUpdated
from katflow_shared.db import Part

from ..domain.staff import FeedOnlyMember, Member, StaffDirectory

UPSERT_MEMBER = (
    "INSERT INTO staff_members AS s (id, clinic_id, first_seen_at, changed_at) VALUES ($1, $2, $3, $3)"
    " ON CONFLICT (id) DO UPDATE SET clinic_id = EXCLUDED.clinic_id,"
    " first_seen_at = LEAST(s.first_seen_at, EXCLUDED.first_seen_at),"
    " changed_at = GREATEST(s.changed_at, EXCLUDED.changed_at)"
)


def member_row(e: ClinicianUpdated) -> Part:
    """The clinician, known from now on (a redelivered or older event changes nothing that matters)."""
    return UPSERT_MEMBER, (e.clinician_id, e.clinic_id, e.changed_at)


async def member(
    db: asyncpg.Connection | asyncpg.Pool, directory: StaffDirectory, staff_id: str
) -> Member | None:
    """Who ``staff_id`` is: the directory file's entry; else, when ClinicianUpdated made them known,
    a feed-only member (one query, only then); else nobody."""
    if (entry := directory.entry(staff_id)) is not None:
        return entry
    known = await db.fetchval("SELECT EXISTS (SELECT 1 FROM staff_members WHERE id = $1)", staff_id)
    return FeedOnlyMember(staff_id) if known else None
