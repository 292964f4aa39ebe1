"""Provider status reports (SMS delivery callbacks) on the deliveries table: the delivery a report is
about, locked; delivered; and every report kept (``delivery_status_reports``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg


async def lock_by_provider(
    conn: asyncpg.Connection, provider_id: str | None, reference: str | None
) -> asyncpg.Record | None:
    """The delivery a provider callback is about (by its id, or by the reference we sent)."""
    if provider_id:
        row = await conn.fetchrow(
            "SELECT id, status FROM deliveries WHERE provider_id = $1 AND channel = 'sms' FOR UPDATE",
            provider_id,
        )
        if row is not None:
            return row
    if reference:
        try:
            ref = UUID(reference)
        except ValueError:
            return None
        return await conn.fetchrow(
            "SELECT id, status FROM deliveries WHERE id = $1 AND channel = 'sms' FOR UPDATE", ref
        )
    return None


async def mark_delivered(
    conn: asyncpg.Connection, delivery_id: UUID, provider_id: str | None, now: datetime
) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = 'delivered', delivered_at = $2,"
        " provider_id = COALESCE(provider_id, $3), updated_at = $2 WHERE id = $1",
        delivery_id,
        now,
        provider_id,
    )


async def record_status_report(
    conn: asyncpg.Connection,
    delivery_id: UUID,
    provider_status: str,
    error_code: str | None,
    applied: bool,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO delivery_status_reports(delivery_id, provider_status, error_code, applied, received_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        delivery_id,
        provider_status,
        error_code,
        applied,
        now,
    )
