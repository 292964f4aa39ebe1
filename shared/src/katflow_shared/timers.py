"""Durable timers in PostgreSQL: scheduled in the caller's transaction, fired through the outbox.

A due timer is claimed with ``FOR UPDATE SKIP LOCKED`` and its handler runs in the same
transaction that marks it fired, so each timer fires once even with several replicas, and a
crash before commit simply leaves it pending to fire after restart.

The worker sleeps until the next pending timer is due, but never longer than
``KATFLOW_TIMER_POLL_SECONDS`` (the service clock may jump forward while it sleeps: a test offset
clock, a corrected wall clock), and ``schedule`` wakes it with a NOTIFY delivered at commit (or, from
the worker's own process, in-process once committed: ``scheduled``), so a timer due now fires within
milliseconds of the transaction that scheduled it. The wake-up carries the new due time: a timer
scheduled for later only shortens the worker's sleep, without a look.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import asyncpg
import structlog
from prometheus_client import Histogram

from . import db, tracing
from .clock import Clock
from .messaging.emitter import Emitter
from .messaging.errors import TRANSIENT_TYPES
from .settings import ServiceSettings
from .wakeup import Announcer, Wakeup
from .writes import Writes

log = structlog.get_logger()
LATENESS = Histogram("katflow_timer_lateness_seconds", "Fired time minus due time", ["kind"])

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
CLAIM = (
    "SELECT id, kind, key, due_at, payload FROM timers WHERE status = 'pending'"
    " AND due_at <= $1 AND kind = ANY($2::text[])"
    " ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED"
)
# Both read the partial index timers_due. FIRST_DUE needs no transaction: an idle look is one round
# trip. NEXT_DUE skips what is due now, so timers another replica holds (SKIP LOCKED) cannot make the
# worker spin; if that replica dies they are found by the next look, at most one poll interval later.
FIRST_DUE = "SELECT min(due_at) FROM timers WHERE status = 'pending' AND kind = ANY($1::text[])"
NEXT_DUE = (
    "SELECT min(due_at) FROM timers WHERE status = 'pending' AND due_at > $1 AND kind = ANY($2::text[])"
)


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


class Running(Protocol):
    """What a ``TimerWorker`` uses of the service's ``runtime.Runtime`` (not imported: the unit of
    work imports this module, and the runtime may build units)."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    clock: Clock
    emitter: Emitter


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


class TimerWorker:
    """Fires due timers by calling the handler registered for their kind."""

    def __init__(
        self,
        runtime: Running,
        handlers: Mapping[str, TimerHandler],
        batch: int = 50,
        *,
        announcer: Announcer,
    ) -> None:
        self.runtime = runtime
        self.handlers = dict(handlers)
        self.batch = batch
        # this process's writers' (``scheduled``, ``UnitOfWork.schedule``): told while we run
        self.announcer = announcer
        self._stopping = False
        self._wakeup = Wakeup(runtime.settings.database_url.get_secret_value(), CHANNEL)

    async def run(self) -> None:
        """Fire timers until stop(): after each look, sleep until the next timer is due, a timer due
        sooner is scheduled (NOTIFY, or a note from this process), or the poll interval has passed,
        whichever comes first."""
        self.announcer.attach(self._wakeup)
        try:
            while not self._stopping:
                try:
                    await self._wakeup.listen()  # before the look: what commits after it wakes us
                    fired, next_due = await self._fire()
                except TRANSIENT_TYPES as exc:
                    log.warning("timer_worker_retry", error=type(exc).__name__)
                    self._wakeup.drop()
                    await asyncio.sleep(1)
                    continue
                if fired < self.batch:
                    await self._sleep(next_due)
        finally:
            self.announcer.detach(self._wakeup)
            await self._wakeup.close()

    async def _sleep(self, next_due: datetime | None) -> None:
        """Until ``next_due``, or a NOTIFY that needs a look, or the poll interval. A notification
        of a timer due later only moves ``next_due`` earlier; one without a due time (or a wake-up
        by stop or a lost connection) ends the sleep."""
        loop = asyncio.get_running_loop()
        look_by = loop.time() + self.runtime.settings.timer_poll_seconds
        while not self._stopping:
            notes = await self._wakeup.wait(min(self._sleep_for(next_due), look_by - loop.time()))
            notified = _earliest(notes)
            if notified is None:
                return
            next_due = notified if next_due is None else min(next_due, notified)
            if next_due <= self.runtime.clock.now() or loop.time() >= look_by:
                return

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    def _sleep_for(self, next_due: datetime | None) -> float:
        poll = self.runtime.settings.timer_poll_seconds
        if next_due is None:
            return poll
        return min(poll, max(0.0, (next_due - self.runtime.clock.now()).total_seconds()))

    async def fire_due(self) -> int:
        """Fire up to ``batch`` due timers; return how many."""
        return (await self._fire())[0]

    async def _fire(self) -> tuple[int, datetime | None]:
        """Fire up to ``batch`` due timers; return how many, and when the next pending one is due
        (None when there is none, or when a full batch was fired and more may be due now)."""
        now = self.runtime.clock.now()
        kinds = list(self.handlers)
        async with self.runtime.pool.acquire() as conn:
            first = await conn.fetchval(FIRST_DUE, kinds)
            if first is None or first > now:
                return 0, first
            async with db.transaction(conn):  # wakes what the handlers asked for once committed
                rows = await conn.fetch(CLAIM, now, kinds, self.batch)
                for row in rows:
                    timer = _timer(row)
                    # A span per fired timer: what its handler emits carries this span's trace context.
                    with tracing.span(f"timer {timer.kind}", timer_id=str(timer.id)):
                        async with conn.transaction():  # savepoint: one bad timer does not block the rest
                            ctx = TimerContext(conn, self.runtime.emitter, now)
                            await self.handlers[timer.kind](timer, ctx)
                    await conn.execute(
                        "UPDATE timers SET status = 'fired', fired_at = $2 WHERE id = $1", timer.id, now
                    )
                    LATENESS.labels(timer.kind).observe((now - timer.due_at).total_seconds())
                next_due = await conn.fetchval(NEXT_DUE, now, kinds) if len(rows) < self.batch else None
        return len(rows), next_due


def _earliest(notes: list[str] | None) -> datetime | None:
    """The earliest due time the notifications announce; None when there were none, or one said
    nothing readable (then the worker looks)."""
    if not notes:
        return None
    try:
        times = [datetime.fromisoformat(n) for n in notes]
    except ValueError:
        return None
    return None if any(t.tzinfo is None for t in times) else min(times)


def _timer(row: asyncpg.Record) -> Timer:
    return Timer(row["id"], row["kind"], row["key"], row["due_at"], json.loads(row["payload"]))
