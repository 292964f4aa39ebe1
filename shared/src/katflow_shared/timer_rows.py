"""Pending timers, written in the caller's transaction: created or moved (``scheduled``: a use
case's ``uow.schedule``), cancelled and locked by key prefix. The worker that fires them, and the
rest of the timers' story, is ``katflow_shared.timers`` (which re-exports these names)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from .wakeup import Announcer
from .writes import Writes

CHANNEL = "katflow_timers"
# Any number of timers in one statement, inside the caller's transaction: each (kind, key) created,
# or moved if pending (the pairs of one call must differ). It takes no lock beyond the upserted timer
# rows, so callers' lock order is unchanged. The workers are woken with the earliest due time once it
# committed (never on rollback): ``scheduled``.
SCHEDULE = (
    "INSERT INTO timers(kind, key, due_at, payload)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[])"
    " ON CONFLICT (kind, key) WHERE status = 'pending'"
    " DO UPDATE SET due_at = EXCLUDED.due_at, payload = EXCLUDED.payload"
)
Wanted = Sequence[tuple[str, str, datetime, Mapping[str, Any] | None]]  # kind, key, due at, payload


async def schedule(
    conn: asyncpg.Connection, kind: str, key: str, due_at: datetime, payload: Mapping[str, Any] | None = None
) -> None:
    """Create the pending (kind, key) timer, or move it to ``due_at`` if it exists."""
    await schedule_all(conn, [(kind, key, due_at, payload)])


async def schedule_all(conn: asyncpg.Connection, wanted: Wanted) -> None:
    """``schedule`` each (kind, key, due_at, payload), in one statement (none when nothing is
    wanted)."""
    await scheduled(wanted).run(conn)


def scheduled(wanted: Wanted, announcer: Announcer | None = None) -> Writes:
    """``schedule_all``'s statement: the upsert, and the workers woken with the earliest due time —
    in-process while this process's worker runs (``announcer``, attached by it), else by a NOTIFY at
    commit (``Writes.run``). Nothing when nothing is wanted."""
    if not wanted:
        return Writes([])
    kinds, keys, dues, payloads = zip(*wanted, strict=True)
    documents = [json.dumps(dict(p or {})) for p in payloads]
    upsert = (SCHEDULE, [list(kinds), list(keys), list(dues), documents])
    return Writes([upsert], wakes=[(announcer or Announcer(CHANNEL)).wake(min(dues).isoformat())])


async def move(conn: asyncpg.Connection, timer_id: int, due_at: datetime) -> None:
    """Make a pending timer due at ``due_at`` (its payload unchanged), waking the worker at commit."""
    await conn.execute(
        "WITH moved AS (UPDATE timers SET due_at = $2 WHERE id = $1 AND status = 'pending' RETURNING id)"
        " SELECT pg_notify($3, $4) FROM moved",
        timer_id,
        due_at,
        CHANNEL,
        due_at.isoformat(),
    )


# Keys sort bytewise (migration 004), so the keys that start with a prefix are one range of the
# pending-key index, found also by the prepared statement's generic plan (``starts_with`` with a
# parameter is not: it scanned every pending timer).
PREFIXED = "status = 'pending' AND key >= $1 AND key < $2 AND starts_with(key, $1)"
CANCEL = (
    f"UPDATE timers SET status = 'cancelled' WHERE {PREFIXED}"  # noqa: S608 - constants
    " AND ($3::text IS NULL OR kind = $3)"
)
LOCK = f"SELECT id FROM timers WHERE {PREFIXED} ORDER BY id FOR UPDATE"  # noqa: S608 - constants


async def cancel(conn: asyncpg.Connection, key_prefix: str, kind: str | None = None) -> int:
    """Cancel pending timers whose key starts with ``key_prefix`` (optionally of one kind)."""
    result = await conn.execute(CANCEL, key_prefix, after_prefix(key_prefix), kind)
    return int(result.split()[-1])


async def lock(conn: asyncpg.Connection, key_prefix: str) -> None:
    """Lock the pending timers whose key starts with ``key_prefix`` until the transaction ends, in id
    order (the order the worker claims them in)."""
    await conn.execute(LOCK, key_prefix, after_prefix(key_prefix))


def after_prefix(prefix: str) -> str:
    """The least string greater than every string that starts with ``prefix`` (in code point order,
    which is byte order in UTF-8)."""
    if not prefix:
        raise ValueError("an empty prefix would cancel every timer")
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
