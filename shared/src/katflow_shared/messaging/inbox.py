"""Idempotent consumers: the processed event id is recorded in the handler's own transaction."""

from __future__ import annotations

import asyncpg

from ..db import Part, wrote

KEY = "inbox_pkey"  # a second (consumer, event) row violates it


async def first_delivery(conn: asyncpg.Connection, consumer: str, event_id: str) -> bool:
    """Record (consumer, event); False when this consumer already processed the event."""
    return await wrote(
        conn,
        "INSERT INTO inbox(consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        event_id,
    )


async def handled(pool: asyncpg.Pool, consumer: str, event_id: str) -> bool:
    """Whether this consumer has processed the event."""
    found = await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2)", consumer, event_id
    )
    return bool(found)


def row(consumer: str, event_id: str) -> Part:
    """The (consumer, event) row, for ``db.composed``: composed with the event's effects, a
    redelivered event fails the whole statement on ``KEY`` and changes nothing."""
    return "INSERT INTO inbox(consumer, event_id) VALUES ($1, $2)", (consumer, event_id)
