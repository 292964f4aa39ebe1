"""The consumer's use cases on the unit of work, against a real PostgreSQL: an event's effects and
its inbox row commit together; a redelivered event fails on the inbox key and writes nothing — its
write-only use case's one statement, and a transactional one's at-once writes too — and wakes no
loop. A timer's handler gets a unit on the worker's transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from katflow_shared import timers
from katflow_shared.clock import FixedClock
from katflow_shared.contracts import ConsultationRequested
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.consumer import UseCase, apply
from katflow_shared.runtime import Runtime
from katflow_shared.settings import ServiceSettings
from katflow_shared.timers import Timer, TimerWorker
from katflow_shared.unit_of_work import UnitOfWork, Units
from katflow_shared.wakeup import Announcer, Wakeup
from tests.support.databases import migrated_database, relayed_units
from tests.support.infra import Infra

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
GROUP = "katflow-test-workflow"
WORK = "CREATE TABLE work (n int PRIMARY KEY)"


@dataclass
class Setup:
    pool: asyncpg.Pool
    units: Units
    relay: Wakeup  # attached to the emitter's announcer, as a leading relay's is
    settings: ServiceSettings

    async def counts(self) -> tuple[int, int, int]:
        row = await self.pool.fetchrow(
            "SELECT (SELECT count(*) FROM inbox), (SELECT count(*) FROM outbox), (SELECT count(*) FROM work)"
        )
        assert row is not None
        return row[0], row[1], row[2]


@pytest.fixture
async def setup(infra: Infra) -> AsyncIterator[Setup]:
    async with migrated_database(infra, "consumer_units_it", then=[WORK]) as db:
        on = relayed_units(db, FixedClock(NOW))
        yield Setup(db.pool, on.units, on.relay, on.settings)


def requested() -> Envelope:
    ids = {k: uuid.uuid4() for k in ("consultation_request_id", "course_id", "patient_id")}
    event = ConsultationRequested(**ids, patient_time_zone="America/Chicago", requested_at=NOW)
    return Envelope(event=event, source="katflow/intake")


async def write_only(event: ConsultationRequested, uow: UnitOfWork) -> None:
    uow.write([("INSERT INTO work(n) SELECT coalesce(max(n), 0) + 1 FROM work", ())])
    uow.emit(event)


async def read_then_write(event: ConsultationRequested, uow: UnitOfWork) -> None:
    n = await uow.conn.fetchval("SELECT coalesce(max(n), 0) + 1 FROM work")
    await uow.conn.execute("INSERT INTO work(n) VALUES ($1)", n)  # at once, in the unit's transaction
    uow.write([("INSERT INTO work(n) VALUES ($1)", (n + 100,))])
    uow.emit(event)


@pytest.mark.parametrize(
    ("use", "works"), [(UseCase(write_only, one_statement=True), 1), (UseCase(read_then_write), 2)]
)
async def test_a_redelivered_event_writes_nothing(setup: Setup, use: UseCase, works: int) -> None:
    envelope = requested()
    assert await apply(setup.units, GROUP, use, envelope)
    assert await setup.counts() == (1, 1, works)
    assert await setup.relay.wait(1) == [""]
    emitted = await setup.pool.fetchval("SELECT headers FROM outbox")
    assert envelope.id in emitted  # its ce_causationid: the unit's cause is the event
    assert not await apply(setup.units, GROUP, use, envelope)  # redelivered: skipped on the inbox key
    assert await setup.counts() == (1, 1, works)
    assert await setup.relay.wait(0) is None
    assert await apply(setup.units, f"{GROUP}-other", use, envelope)  # another group has not seen it
    assert await setup.counts() == (2, 2, 2 * works)


async def test_a_timer_handler_writes_with_its_timer_fired(setup: Setup) -> None:
    fired: list[datetime] = []

    async def on_timer(timer: Timer, uow: UnitOfWork) -> None:
        fired.append(uow.now)
        uow.write([("INSERT INTO work(n) VALUES ($1)", (int(timer.key),))])
        uow.schedule([("test.next", "2", uow.now + timedelta(hours=1), None)])

    clock = FixedClock(NOW)
    runtime = Runtime(setup.settings, setup.pool, None, setup.units.emitter, clock)  # type: ignore[arg-type]
    worker = TimerWorker(runtime, {"test.kind": on_timer}, announcer=Announcer(timers.CHANNEL))
    await timers.schedule(setup.pool, "test.kind", "1", NOW - timedelta(minutes=1))  # type: ignore[arg-type]
    assert await worker.fire_due() == 1
    assert fired == [NOW]
    rows = await setup.pool.fetch("SELECT kind, status FROM timers ORDER BY id")
    assert [tuple(r) for r in rows] == [("test.kind", "fired"), ("test.next", "pending")]
    assert await setup.pool.fetchval("SELECT n FROM work") == 1


async def test_a_redelivered_event_stops_at_the_inbox_before_a_transactional_use_case_runs(
    setup: Setup,
) -> None:
    """In a transaction the inbox row goes first: a use case that could not run twice (an insert on
    its own key) is skipped on redelivery, not retried into a dead letter."""
    runs = 0

    async def insert_once(event: ConsultationRequested, uow: UnitOfWork) -> None:
        nonlocal runs
        runs += 1
        await uow.conn.execute("INSERT INTO work(n) VALUES (1)")  # fails on work_pkey if run again

    envelope = requested()
    assert await apply(setup.units, GROUP, UseCase(insert_once), envelope)
    assert not await apply(setup.units, GROUP, UseCase(insert_once), envelope)
    assert runs == 1
    assert await setup.counts() == (1, 0, 1)


async def test_a_redelivered_write_only_event_meeting_another_key_first_is_skipped(setup: Setup) -> None:
    """A one-statement unit's parts may fail on their own key before the inbox's: the event is
    found in the inbox and skipped (not retried into a dead letter); a first delivery whose write
    conflicts is still an error."""

    async def insert_once(event: ConsultationRequested, uow: UnitOfWork) -> None:
        uow.write([("INSERT INTO work(n) VALUES (7)", ())])

    envelope = requested()
    use = UseCase(insert_once, one_statement=True)
    assert await apply(setup.units, GROUP, use, envelope)
    assert not await apply(setup.units, GROUP, use, envelope)
    with pytest.raises(asyncpg.UniqueViolationError):  # another event writing the same row
        await apply(setup.units, GROUP, use, requested())
