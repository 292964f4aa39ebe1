"""The in-app staff feed: a channel that writes to PostgreSQL (delivered at once) and its reads."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ..ports import Outbound, Receipt

NOTIFY_CHANNEL = "katflow_feed"


class PostgresFeed:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def send(self, outbound: Outbound) -> Receipt:
        """One statement (its own transaction): the item, once per delivery, and the NOTIFY that wakes
        the staff member's open streams (delivered at commit)."""
        item_id = await self.pool.fetchval(
            "WITH item AS (INSERT INTO feed_items(staff_id, delivery_id, notification, title, body, urgent,"
            " course_id) VALUES ($1,$2,$3,$4,$5,$6,$7)"
            " ON CONFLICT (delivery_id) DO UPDATE SET title = EXCLUDED.title RETURNING id)"
            " SELECT id FROM item, pg_notify($8, $1)",
            outbound.to,
            outbound.delivery_id,
            outbound.notification,
            outbound.message.subject,
            outbound.message.text,
            outbound.urgent,
            outbound.course_id,
            NOTIFY_CHANNEL,
        )
        return Receipt(f"feed:{item_id}", delivered=True)


FEED_COLUMNS = "id, notification, title, body, urgent, course_id, created_at, read_at"


async def items_after(
    pool: asyncpg.Pool, staff_id: str, after: int, limit: int = 100
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        f"SELECT {FEED_COLUMNS} FROM feed_items WHERE staff_id = $1 AND id > $2"  # noqa: S608 - constant
        " ORDER BY id LIMIT $3",
        staff_id,
        after,
        limit,
    )
    return rows


async def mark_read(pool: asyncpg.Pool, staff_id: str, item_id: int, now: datetime) -> bool:
    result = await pool.execute(
        "UPDATE feed_items SET read_at = COALESCE(read_at, $3) WHERE staff_id = $1 AND id = $2",
        staff_id,
        item_id,
        now,
    )
    return bool(result.endswith(" 1"))
