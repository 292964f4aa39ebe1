"""Durable timers in PostgreSQL: scheduled in the caller's transaction, fired through the outbox.

A due timer is claimed with ``FOR UPDATE SKIP LOCKED`` and its handler runs in the same
transaction that marks it fired, so each timer fires once even with several replicas, and a
crash before commit simply leaves it pending to fire after restart.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from prometheus_client import Histogram

from .messaging.emitter import Emitter
from .messaging.errors import TRANSIENT_TYPES
from .runtime import Runtime

log = structlog.get_logger()
LATENESS = Histogram("katflow_timer_lateness_seconds", "Fired time minus due time", ["kind"])


@dataclass(frozen=True)
class Timer:
    id: int
    kind: str
    key: str
    due_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class TimerContext:
    conn: asyncpg.Connection
    emitter: Emitter
    now: datetime


TimerHandler = Callable[[Timer, TimerContext], Awaitable[None]]


async def schedule(
    conn: asyncpg.Connection, kind: str, key: str, due_at: datetime, payload: Mapping[str, Any] | None = None
) -> None:
    """Create the pending (kind, key) timer, or move it to ``due_at`` if it exists."""
    await conn.execute(
        "INSERT INTO timers(kind, key, due_at, payload) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (kind, key) WHERE status = 'pending'"
        " DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload",
        kind,
        key,
        due_at,
        json.dumps(dict(payload or {})),
    )


async def cancel(conn: asyncpg.Connection, key_prefix: str, kind: str | None = None) -> int:
    """Cancel pending timers whose key starts with ``key_prefix`` (optionally of one kind)."""
    result = await conn.execute(
        "UPDATE timers SET status = 'cancelled' WHERE status = 'pending'"
        " AND starts_with(key, $1) AND ($2::text IS NULL OR kind = $2)",
        key_prefix,
        kind,
    )
    return int(result.split()[-1])


class TimerWorker:
    """Fires due timers by calling the handler registered for their kind."""

    def __init__(self, runtime: Runtime, handlers: Mapping[str, TimerHandler], batch: int = 50) -> None:
        self.runtime = runtime
        self.handlers = dict(handlers)
        self.batch = batch
        self._stopping = False

    async def run(self) -> None:
        while not self._stopping:
            try:
                fired = await self.fire_due()
            except TRANSIENT_TYPES as exc:
                log.warning("timer_worker_retry", error=type(exc).__name__)
                fired = 0
                await asyncio.sleep(1)
            if fired < self.batch:
                await asyncio.sleep(self.runtime.settings.timer_poll_seconds)

    async def stop(self) -> None:
        self._stopping = True

    async def fire_due(self) -> int:
        now = self.runtime.clock.now()
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, kind, key, due_at, payload FROM timers WHERE status = 'pending'"
                " AND due_at <= $1 AND kind = ANY($2::text[])"
                " ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED",
                now,
                list(self.handlers),
                self.batch,
            )
            for row in rows:
                timer = Timer(row["id"], row["kind"], row["key"], row["due_at"], json.loads(row["payload"]))
                async with conn.transaction():  # savepoint: one bad timer does not block the rest
                    await self.handlers[timer.kind](timer, TimerContext(conn, self.runtime.emitter, now))
                await conn.execute(
                    "UPDATE timers SET status = 'fired', fired_at = $2 WHERE id = $1", timer.id, now
                )
                LATENESS.labels(timer.kind).observe((now - timer.due_at).total_seconds())
        return len(rows)
