"""The SMS frequency cap's reads and writes on the deliveries table: one cap decision at a time per
patient (an advisory lock), the texts it counts, and a text admitted under it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

CAP_LOCK = 0x63617073  # "caps": with the patient's id, one cap decision at a time per patient


async def sms_sent_times(
    conn: asyncpg.Connection, patient_id: UUID, since: datetime, exclude: UUID
) -> list[datetime]:
    """When this patient's automated texts were sent, or admitted and still being sent (by any
    replica), since ``since``; ``exclude``'s own admission aside. Waits for, then holds until the
    transaction ends, the patient's cap lock: call in the transaction that admits the next text."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", CAP_LOCK, str(patient_id))
    rows = await conn.fetch(
        "SELECT coalesce(sent_at, cap_admitted_at) AS at FROM deliveries WHERE patient_id = $1"
        " AND channel = 'sms' AND automated AND id <> $3 AND ("
        "   (status IN ('sent', 'delivered') AND sent_at >= $2)"
        "   OR (status = 'sending' AND cap_admitted_at >= $2))",
        patient_id,
        since,
        exclude,
    )
    return [r["at"] for r in rows]


async def admit_capped(conn: asyncpg.Connection, delivery_id: UUID, now: datetime) -> None:
    await conn.execute("UPDATE deliveries SET cap_admitted_at = $2 WHERE id = $1", delivery_id, now)
