"""Durable timers in PostgreSQL: scheduled in the caller's transaction, fired through the outbox.

A due timer is claimed with ``FOR UPDATE SKIP LOCKED`` and its handler runs in the same
transaction that marks it fired, so each timer fires once even with several replicas, and a
crash before commit simply leaves it pending to fire after restart. The handler gets a unit of work
on that transaction (``Units.on``, in a savepoint per timer): what it emits, audits, writes and
schedules goes in one statement when it returns, and the loops it woke are woken once the batch
committed.

The worker sleeps until the next pending timer is due, but never longer than
``KATFLOW_TIMER_POLL_SECONDS`` (the service clock may jump forward while it sleeps: a test offset
clock, a corrected wall clock), and ``schedule`` wakes it with a NOTIFY delivered at commit (or, from
the worker's own process, in-process once committed: ``scheduled``), so a timer due now fires within
milliseconds of the transaction that scheduled it. The wake-up carries the new due time: a timer
scheduled for later only shortens the worker's sleep, without a look.

What writes pending timers (``schedule``, ``scheduled``, ``move``, ``cancel``, ``lock``) is in
``timer_rows``, below the unit of work; its names are this module's too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
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
from .timer_rows import CANCEL as CANCEL
from .timer_rows import CHANNEL as CHANNEL
from .timer_rows import LOCK as LOCK
from .timer_rows import PREFIXED as PREFIXED
from .timer_rows import SCHEDULE as SCHEDULE
from .timer_rows import Wanted as Wanted
from .timer_rows import after_prefix as after_prefix
from .timer_rows import cancel as cancel
from .timer_rows import lock as lock
from .timer_rows import move as move
from .timer_rows import schedule as schedule
from .timer_rows import schedule_all as schedule_all
from .timer_rows import scheduled as scheduled
from .unit_of_work import UnitOfWork, Units
from .wakeup import Announcer, Wakeup

log = structlog.get_logger()
LATENESS = Histogram("katflow_timer_lateness_seconds", "Fired time minus due time", ["kind"])

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


OnTimer = Callable[[Timer, UnitOfWork], Awaitable[None]]  # a handler, on the worker's unit (``Units.on``)


class Running(Protocol):
    """What a ``TimerWorker`` uses of the service's ``runtime.Runtime`` (not imported: the runtime
    imports this module)."""

    settings: ServiceSettings
    pool: asyncpg.Pool
    clock: Clock
    emitter: Emitter


class TimerWorker:
    """Fires due timers by calling the handler registered for their kind."""

    def __init__(
        self,
        runtime: Running,
        handlers: Mapping[str, OnTimer],
        batch: int = 50,
        *,
        announcer: Announcer,
    ) -> None:
        self.runtime = runtime
        self.handlers = dict(handlers)
        self.batch = batch
        # this process's writers' (``scheduled``, ``UnitOfWork.schedule``): told while we run
        self.announcer = announcer
        self.units = Units(runtime.pool, runtime.clock, runtime.emitter, announcer)
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
                        async with conn.transaction(), self.units.on(conn, now=now) as uow:  # savepoint
                            await self.handlers[timer.kind](timer, uow)
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
