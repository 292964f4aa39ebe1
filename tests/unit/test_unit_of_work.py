"""The kernel's unit of work, on a recording connection: what a use case emits, audits and writes
goes to the database as one statement at the end (in a transaction, or on its own), nothing when the
use case raises, and the relay is woken once, after the commit. Against PostgreSQL:
tests/integration/test_unit_of_work.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from katflow_shared import audit, timers
from katflow_shared.clock import FixedClock
from katflow_shared.contracts import ConsultationRequested
from katflow_shared.messaging import outbox
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.settings import ServiceSettings
from katflow_shared.unit_of_work import Units
from katflow_shared.wakeup import Announcer, Wakeup
from katflow_shared.writes import Writes
from tests.support.recording_db import Pool

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
WORK = ("INSERT INTO work(n) VALUES ($1)", (7,))


class Relay:
    """The relay's loop, attached: what it is noted (in-process wake-ups), with what had happened."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.announcer = Announcer(outbox.CHANNEL)
        self.noted: list[list[str]] = []  # per note, the statements run before it
        loop = Wakeup("postgresql://unused", outbox.CHANNEL)
        loop.note = lambda payload: self.noted.append(list(self.pool.log))  # type: ignore[method-assign]
        self.announcer.attach(loop)


def units(pool: Pool, relay: Relay) -> Units:
    emitter = Emitter(ServiceSettings(environment="test"), relay.announcer)
    return Units(pool, FixedClock(NOW), emitter, Announcer(timers.CHANNEL))  # type: ignore[arg-type]


def requested() -> ConsultationRequested:
    ids = {k: uuid.uuid4() for k in ("consultation_request_id", "course_id", "patient_id")}
    return ConsultationRequested(**ids, patient_time_zone="America/Chicago", requested_at=NOW)


def entry() -> tuple[object, ...]:
    return audit.entry("intake", None, "test.action")


@pytest.mark.parametrize("one_statement", [False, True])
async def test_emits_audits_and_writes_commit_together_in_one_statement(one_statement: bool) -> None:
    pool = Pool()
    relay = Relay(pool)
    async with units(pool, relay).start(one_statement=one_statement) as uow:
        first, second = uow.emit(requested()), uow.emit(requested())
        uow.audit(entry())
        uow.write([WORK])
        assert pool.log == ([] if one_statement else ["BEGIN"])  # nothing sent before the end
    statements = [s for s in pool.log if s not in ("BEGIN", "COMMIT")]
    assert len(statements) == 1 and pool.log[-1] == ("COMMIT" if not one_statement else statements[0])
    statement = statements[0]
    assert "INSERT INTO work" in statement and "INSERT INTO audit_log" in statement
    assert statement.count("INSERT INTO outbox") == 1  # both events, in one insert, in order
    assert first.causation_id is None and second.id != first.id
    assert "pg_notify" not in statement  # the relay runs here: noted in-process


async def test_nothing_is_written_when_the_use_case_raises() -> None:
    pool = Pool()
    relay = Relay(pool)
    with pytest.raises(LookupError):
        async with units(pool, relay).start() as uow:
            uow.emit(requested())
            uow.write([WORK])
            raise LookupError("the use case refuses")
    assert pool.log == ["BEGIN", "ROLLBACK"]
    assert relay.noted == []


async def test_the_relay_is_woken_once_after_the_commit() -> None:
    pool = Pool()
    relay = Relay(pool)
    async with units(pool, relay).start() as uow:
        uow.emit(requested())
        await uow.flush()  # sent now (a read must see it): its wake-up waits for the last
        uow.emit(requested())
        uow.write(Writes([WORK], wakes=[relay.announcer.wake()]))  # the same wake-up, asked again
    assert len(relay.noted) == 1 and relay.noted[0][-1] == "COMMIT"


async def test_a_one_statement_unit_refuses_to_flush_and_sends_nothing_when_empty() -> None:
    pool = Pool()
    relay = Relay(pool)
    async with units(pool, relay).start(one_statement=True) as uow:
        with pytest.raises(RuntimeError):
            await uow.flush()
    assert pool.log == [] and relay.noted == []


async def test_timers_go_with_the_writes_and_wake_the_timer_workers_by_notify_when_none_runs_here() -> None:
    pool = Pool()
    relay = Relay(pool)
    async with units(pool, relay).start() as uow:
        uow.schedule([("reminder", "a1", NOW, None)])
        uow.emit(requested())
    statement = pool.log[1]
    assert "INSERT INTO timers" in statement and "INSERT INTO outbox" in statement
    assert statement.count("pg_notify") == 1  # the timer workers' (none attached); the relay in-process
    assert len(relay.noted) == 1


async def test_a_unit_handling_an_event_emits_what_it_caused() -> None:
    pool = Pool()
    relay = Relay(pool)
    cause = Envelope(event=requested(), source="katflow/scheduling", correlation_id="request-1")
    async with units(pool, relay).start(cause) as uow:
        emitted = uow.emit(requested())
    assert emitted.causation_id == cause.id and emitted.correlation_id == "request-1"
    assert uow.now == NOW


async def test_a_flushed_notify_goes_with_its_statement_not_in_one_of_its_own() -> None:
    """No relay or timer worker here (another replica's lead): the NOTIFY of flushed work goes in
    that flush's statement, and a unit with nothing left to send at its end sends no statement."""
    pool = Pool()
    relay = Relay(pool)
    relay.announcer.detach(relay.announcer._loop)  # type: ignore[arg-type]
    async with units(pool, relay).start() as uow:
        uow.emit(requested())
        uow.schedule([("reminder", "a1", NOW, None)])
        await uow.flush()
    statements = [s for s in pool.log if s not in ("BEGIN", "COMMIT")]
    assert len(statements) == 1 and statements[0].count("pg_notify") == 2
