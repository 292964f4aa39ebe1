"""The in-app staff feed: a channel whose items the delivery's settle writes (delivered at once),
and its reads. Open streams find new items at their next look (``KATFLOW_FEED_POLL_SECONDS``)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from ..ports import Outbound, Receipt

ITEM = (
    "INSERT INTO feed_items(staff_id, delivery_id, notification, title, body, urgent, course_id, patient_id)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (delivery_id) DO NOTHING"
)


class PostgresFeed:
    async def send(self, outbound: Outbound) -> Receipt:
        """No I/O of its own: the item (once per delivery) goes in the statement that settles the
        delivery. (It used to NOTIFY a channel no stream listened on: the streams poll.)"""
        o = outbound
        item = (
            o.to,
            o.delivery_id,
            o.notification,
            o.message.subject,
            o.message.text,
            o.urgent,
            o.course_id,
            o.patient_id,
        )
        return Receipt(f"feed:{o.delivery_id}", delivered=True, writes=[(ITEM, item)])


FEED_COLUMNS = "id, notification, title, body, urgent, course_id, patient_id, created_at, read_at"


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
