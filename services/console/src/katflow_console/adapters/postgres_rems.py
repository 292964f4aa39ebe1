"""REMS monitoring forms to file: one per esketamine session, escalated as an alert before its day."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg


async def expect_form(conn: asyncpg.Connection, session: dict[str, str | int], due_on: date) -> None:
    await conn.execute(
        "INSERT INTO rems_filings (session_id, appointment_id, course_id, dose_number, due_on)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        UUID(str(session["session_id"])),
        UUID(str(session["appointment_id"])),
        UUID(str(session["course_id"])),
        int(session["dose_number"]),
        due_on,
    )


async def escalate_due(pool: asyncpg.Pool, by: date, at: datetime) -> int:
    """Raise an urgent alert for every unfiled form due on or before ``by`` (once each)."""
    async with pool.acquire() as conn, conn.transaction():
        due = await conn.fetch(
            "UPDATE rems_filings SET escalated_at = $2 WHERE filed_at IS NULL AND escalated_at IS NULL"
            " AND due_on <= $1 RETURNING session_id, course_id, dose_number, due_on",
            by,
            at,
        )
        for r in due:
            await conn.execute(
                "INSERT INTO alerts (event_id, course_id, kind, urgent, raised_at, summary)"
                " VALUES ($1, $2, 'RemsFormDue', true, $3, $4) ON CONFLICT DO NOTHING",
                f"rems-due:{r['session_id']}",
                r["course_id"],
                at,
                f"REMS monitoring form due by {r['due_on']} (dose {r['dose_number']})",
            )
    return len(due)


async def mark_filed(pool: asyncpg.Pool, appointment_id: UUID, who: str, at: datetime) -> None:
    """The form is filed: its alert, if raised, is resolved by the same person."""
    async with pool.acquire() as conn, conn.transaction():
        session_id = await conn.fetchval(
            "UPDATE rems_filings SET filed_by = $2, filed_at = $3 WHERE appointment_id = $1"
            " AND filed_at IS NULL RETURNING session_id",
            appointment_id,
            who,
            at,
        )
        if session_id is not None:
            await conn.execute(
                "UPDATE alerts SET resolved_by = $2, resolved_at = $3"
                " WHERE event_id = $1 AND resolved_at IS NULL",
                f"rems-due:{session_id}",
                who,
                at,
            )


async def filing(pool: asyncpg.Pool, appointment_id: UUID) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM rems_filings WHERE appointment_id = $1", appointment_id)
