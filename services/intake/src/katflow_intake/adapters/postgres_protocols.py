"""intake's protocol activations: which version new courses of a route are pinned to."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from katflow_shared.contracts.common import Route


async def lock(conn: asyncpg.Connection) -> None:
    """One activation at a time (the previous version an event names must be the real one)."""
    await conn.execute("LOCK TABLE protocol_activations IN SHARE ROW EXCLUSIVE MODE")


async def activated(conn: asyncpg.Connection | asyncpg.Pool, route: Route) -> str | None:
    """The version last activated for ``route``, if any."""
    found: str | None = await conn.fetchval(
        "SELECT protocol_version FROM protocol_activations WHERE route = $1 ORDER BY id DESC LIMIT 1",
        route.value,
    )
    return found


async def record(conn: asyncpg.Connection, route: Route, version: str, now: datetime, by: str) -> None:
    await conn.execute(
        "INSERT INTO protocol_activations (route, protocol_version, activated_at, activated_by)"
        " VALUES ($1, $2, $3, $4)",
        route.value,
        version,
        now,
        by,
    )
