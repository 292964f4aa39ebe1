"""The timer worker against a real PostgreSQL: it sleeps until the next timer is due or a timer is
scheduled (NOTIFY at commit), not a fixed poll interval; it still looks at least every poll interval
(a clock that jumps forward); its LISTEN connection comes back after being cut; replicas woken by the
same NOTIFY fire each timer once. And the pool returns connections without a reset round trip, while
migrations leave no session advisory lock behind.

The timer's effect is a row its handler writes in the firing transaction; tests wait for that row.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from katflow_shared import timers
from katflow_shared.db import migrate
from katflow_shared.messaging import outbox
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.runtime import Runtime
from katflow_shared.settings import ServiceSettings
from katflow_shared.timers import Timer, TimerWorker
from katflow_shared.unit_of_work import UnitOfWork
from katflow_shared.wakeup import Announcer
from tests.support.databases import migrated_database
from tests.support.infra import Infra

KIND = "test_effect"
QUICK = 1.0  # seconds: well under the poll intervals below, well over a wake-up's few milliseconds


class OffsetClock:
    """Wall clock plus an offset the test moves, like FileOffsetClock in e2e runs."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def write_effect(timer: Timer, uow: UnitOfWork) -> None:
    await uow.conn.execute("INSERT INTO effects(key) VALUES ($1)", timer.key)


@dataclass
class Db:
    dsn: str
    pool: asyncpg.Pool
    clock: OffsetClock
    admin: asyncpg.Connection
    name: str

    def worker(self, poll_seconds: float) -> TimerWorker:
        settings = ServiceSettings(environment="test", database_url=self.dsn, timer_poll_seconds=poll_seconds)
        runtime = Runtime(settings, self.pool, None, Emitter(settings, Announcer(outbox.CHANNEL)), self.clock)  # type: ignore[arg-type]
        return TimerWorker(runtime, {KIND: write_effect}, announcer=Announcer(timers.CHANNEL))

    async def schedule(self, *keys: str, due_in: timedelta = timedelta(0)) -> None:
        """Schedule timers in one committed transaction, as a service's handler would."""
        async with self.pool.acquire() as conn, conn.transaction():
            for key in keys:
                await timers.schedule(conn, KIND, key, self.clock.now() + due_in)

    async def fired(self, key: str, within: float, began: float | None = None) -> float:
        """Wait for the timer's effect; return how long it took (seconds) since ``began`` (default:
        now; a timer due in a while is due that while after the clock reading scheduling made, so
        measure from before ``schedule``)."""
        began = began if began is not None else time.monotonic()
        while time.monotonic() - began < within:
            if await self.pool.fetchval("SELECT count(*) FROM effects WHERE key = $1", key):
                return time.monotonic() - began
            await asyncio.sleep(0.005)
        raise AssertionError(f"timer {key} did not fire within {within} s")

    async def listener_pid(self, other_than: int | None = None, within: float = 10) -> int:
        """The backend holding the worker's LISTEN (a new one when ``other_than`` is given)."""
        began = time.monotonic()
        while time.monotonic() - began < within:
            pid = await self.admin.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1"
                " AND query ILIKE 'LISTEN %katflow_timers%' AND pid IS DISTINCT FROM $2",
                self.name,
                other_than,
            )
            if pid is not None:
                return int(pid)
            await asyncio.sleep(0.02)
        raise AssertionError("the timer worker is not listening")


@pytest.fixture
async def db(infra: Infra) -> AsyncIterator[Db]:
    async with migrated_database(
        infra, "timer_it", pool_size=6, then=["CREATE TABLE effects (key text NOT NULL)"]
    ) as migrated:
        scratch = migrated.scratch
        yield Db(scratch.dsn, migrated.pool, OffsetClock(), scratch.admin, scratch.name)


@contextlib.asynccontextmanager
async def running(*workers: TimerWorker) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield
    finally:
        for w in workers:
            await w.stop()
        done, pending = await asyncio.wait(tasks, timeout=5)
        assert not pending, "stop() must end the worker's sleep at once"
        for task in done:
            task.result()  # a worker that crashed fails the test


async def idle() -> None:
    """Let the workers make their first look and settle into a (long) sleep."""
    await asyncio.sleep(0.5)


async def test_a_timer_due_now_fires_in_milliseconds_not_after_the_poll_interval(db: Db) -> None:
    async with running(db.worker(poll_seconds=5)):
        await idle()
        took = []
        for n in range(3):
            await db.schedule(f"now-{n}")  # e.g. IntegrationDue armed at discharge
            took.append(await db.fired(f"now-{n}", within=10))
            await asyncio.sleep(0.2)  # the worker is asleep again before the next one
    assert max(took) < QUICK, took


async def test_the_worker_sleeps_until_the_next_timer_is_due(db: Db) -> None:
    async with running(db.worker(poll_seconds=5)):
        await idle()
        scheduling = time.monotonic()
        await db.schedule("soon", due_in=timedelta(seconds=1.5))
        took = await db.fired("soon", within=10, began=scheduling)
    assert 1.5 <= took < 1.5 + QUICK, took


async def test_a_clock_jumping_forward_is_noticed_within_the_poll_interval(db: Db) -> None:
    async with running(db.worker(poll_seconds=1)):
        await idle()
        await db.schedule("in-an-hour", due_in=timedelta(hours=1))
        await asyncio.sleep(0.2)  # asleep, for the poll interval at most, not for an hour
        db.clock.offset = timedelta(hours=1)  # no NOTIFY announces this
        took = await db.fired("in-an-hour", within=10)
    assert took < 1 + QUICK, took


def counting_looks(worker: TimerWorker) -> list[int]:
    """Count the worker's looks (each a query for due timers)."""
    looks = [0]
    look = worker._fire

    async def counted() -> tuple[int, datetime | None]:
        looks[0] += 1
        return await look()

    worker._fire = counted  # type: ignore[method-assign]
    return looks


async def test_a_timer_scheduled_for_later_shortens_the_sleep_without_a_look(db: Db) -> None:
    worker = db.worker(poll_seconds=5)
    looks = counting_looks(worker)
    async with running(worker):
        await idle()
        before = looks[0]
        for n in range(5):  # e.g. a reminder armed with every booking: each one a NOTIFY
            await db.schedule(f"later-{n}", due_in=timedelta(hours=1))
        await asyncio.sleep(0.3)
        assert looks[0] == before  # the NOTIFY said when: nothing to look at yet
        scheduling = time.monotonic()
        await db.schedule("sooner", due_in=timedelta(seconds=1))
        took = await db.fired("sooner", within=10, began=scheduling)
    assert 1 <= took < 1 + QUICK, took
    assert looks[0] == before + 1  # the one look, when "sooner" fell due


async def test_a_statement_of_the_workers_own_process_wakes_it_without_a_notify(db: Db) -> None:
    """Scheduled through the running worker's announcer by a statement of its own, a timer due now
    fires at once and one due later shortens the sleep without a look, with no NOTIFY through
    PostgreSQL; once the worker stopped, the announcer gives the NOTIFY again (for another
    replica's worker)."""
    announcer = Announcer(timers.CHANNEL)
    worker = db.worker(poll_seconds=30)
    worker.announcer = announcer
    looks = counting_looks(worker)
    heard: list[str] = []
    listener = await asyncpg.connect(db.dsn)
    await listener.add_listener(timers.CHANNEL, lambda *args: heard.append(args[3]))

    async def schedule(key: str, due_in: timedelta) -> None:
        writes = timers.scheduled([(KIND, key, db.clock.now() + due_in, None)], announcer)
        await writes.run(db.pool)

    try:
        async with running(worker):
            await idle()
            before = looks[0]
            await schedule("later", timedelta(hours=1))
            await asyncio.sleep(0.3)
            assert looks[0] == before  # noted in-process with its due time: nothing to look at yet
            began = time.monotonic()
            await schedule("now", timedelta(0))
            took = await db.fired("now", within=10, began=began)
            assert took < QUICK, took  # the poll is 30 s: only the in-process note explains this
            assert heard == []
        writes = timers.scheduled([(KIND, "after-stop", db.clock.now(), None)], announcer)
        await writes.run(db.pool)
        await asyncio.sleep(0.2)  # a NOTIFY arrives in milliseconds
        assert len(heard) == 1
    finally:
        await listener.close()


async def test_notifications_of_later_timers_do_not_put_off_the_poll(db: Db) -> None:
    async with running(db.worker(poll_seconds=1)):
        await idle()
        await db.schedule("in-an-hour", due_in=timedelta(hours=1))
        db.clock.offset = timedelta(hours=1)  # no NOTIFY announces this ...
        began = time.monotonic()
        n = 0
        while not await db.pool.fetchval("SELECT count(*) FROM effects WHERE key = 'in-an-hour'"):
            assert time.monotonic() - began < 1 + QUICK, "the poll was put off"
            n += 1
            await db.schedule(f"keeps-coming-{n}", due_in=timedelta(hours=5))  # ... and these keep coming
            await asyncio.sleep(0.05)


async def test_cancel_takes_the_pending_timers_under_a_prefix_and_no_others(db: Db) -> None:
    keys = ["course:1:appt:a:no_show", "course:1:appt:a:reminder", "course:1:appt:ab:no_show", "course:10:x"]
    await db.schedule(*keys, due_in=timedelta(hours=1))
    async with db.pool.acquire() as conn:
        assert await timers.cancel(conn, "course:1:appt:a:", KIND) == 2
        assert await timers.cancel(conn, "course:1:appt:a:", "another_kind") == 0
        assert await timers.cancel(conn, "course:1:", None) == 1  # ab's, not course:10's
    rows = await db.pool.fetch("SELECT key, status FROM timers ORDER BY key")
    assert {r["key"]: r["status"] for r in rows} == {
        "course:1:appt:a:no_show": "cancelled",
        "course:1:appt:a:reminder": "cancelled",
        "course:1:appt:ab:no_show": "cancelled",
        "course:10:x": "pending",
    }
    with pytest.raises(ValueError):
        timers.after_prefix("")


async def test_the_listen_connection_comes_back_after_it_is_cut(db: Db) -> None:
    async with running(db.worker(poll_seconds=5)):
        first = await db.listener_pid()
        assert await db.admin.fetchval("SELECT pg_terminate_backend($1)", first)
        await db.listener_pid(other_than=first)  # listening again, without waiting for the poll
        await asyncio.sleep(0.1)
        await db.schedule("after-cut")
        took = await db.fired("after-cut", within=10)
    assert took < QUICK, took


async def test_replicas_woken_by_one_notify_fire_each_timer_once(db: Db) -> None:
    async with running(db.worker(poll_seconds=5), db.worker(poll_seconds=5), db.worker(poll_seconds=5)):
        await idle()
        keys = [f"many-{n}" for n in range(60)]  # more than one batch
        await db.schedule(*keys)
        for key in keys:
            await db.fired(key, within=10)
        await asyncio.sleep(0.5)
    counts = await db.pool.fetch("SELECT key, count(*) AS n FROM effects GROUP BY key")
    assert {r["key"]: r["n"] for r in counts} == dict.fromkeys(keys, 1)
    statuses = await db.pool.fetch("SELECT status, count(*) AS n FROM timers GROUP BY status")
    assert {r["status"]: r["n"] for r in statuses} == {"fired": len(keys)}


async def test_a_rolled_back_schedule_neither_fires_nor_wakes_for_nothing(db: Db) -> None:
    async with running(db.worker(poll_seconds=5)):
        await idle()
        with contextlib.suppress(RuntimeError):
            async with db.pool.acquire() as conn, conn.transaction():
                await timers.schedule(conn, KIND, "rolled-back", db.clock.now())
                raise RuntimeError("the caller's transaction fails")
        await db.schedule("kept")
        await db.fired("kept", within=10)
    assert await db.pool.fetchval("SELECT count(*) FROM timers WHERE key = 'rolled-back'") == 0


async def test_pooled_connections_are_released_without_a_reset_query(db: Db) -> None:
    queries: list[str] = []

    def log(record: asyncpg.connection.LoggedQuery) -> None:
        queries.append(record.query)

    conn = await db.pool.acquire()
    raw = conn._con  # the connection itself: the pool's proxy is detached on release
    raw.add_query_logger(log)
    try:
        await conn.fetchval("SELECT 1")
        await db.pool.release(conn)
        assert queries == ["SELECT 1"]  # asyncpg's default adds pg_advisory_unlock_all(); ... RESET ALL
    finally:
        raw.remove_query_logger(log)


async def test_migrations_leave_no_advisory_lock_on_pooled_connections(db: Db) -> None:
    await migrate(db.pool, ["katflow_shared"])  # again: nothing to apply, the lock is still taken
    held = await db.admin.fetchval(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
        " WHERE l.locktype = 'advisory' AND a.datname = $1",
        db.name,
    )
    assert held == 0
