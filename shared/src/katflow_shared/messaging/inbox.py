"""Idempotent consumers: the processed event id is recorded in the handler's own transaction."""

from __future__ import annotations

import asyncpg


async def first_delivery(conn: asyncpg.Connection, consumer: str, event_id: str) -> bool:
    """Record (consumer, event); False when this consumer already processed the event."""
    inserted = await conn.fetchval(
        "INSERT INTO inbox(consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        event_id,
    )
    return bool(inserted)
