"""The kernel's unit of work against a real PostgreSQL: a unit's emits, audit records and writes
commit together or not at all, a flush makes them visible to the unit's next reads, and the relay of
this process is noted once, after the commit (never by a NOTIFY, never after a rollback)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import pytest

from katflow_shared import audit
from katflow_shared.clock import FixedClock
from katflow_shared.contracts import ConsultationRequested
from katflow_shared.unit_of_work import Units
from katflow_shared.wakeup import Wakeup
from tests.support.databases import migrated_database, relayed_units
from tests.support.infra import Infra

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@dataclass
class Setup:
    pool: asyncpg.Pool
    units: Units
    relay: Wakeup  # attached to the emitter's announcer, as a leading relay's is

    async def counts(self) -> tuple[int, int, int]:
        row = await self.pool.fetchrow(
            "SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM audit_log),"
            " (SELECT count(*) FROM work)"
        )
        assert row is not None
        return row[0], row[1], row[2]


@pytest.fixture
async def setup(infra: Infra) -> AsyncIterator[Setup]:
    async with migrated_database(infra, "uow_it", then=["CREATE TABLE work (n int PRIMARY KEY)"]) as db:
        on = relayed_units(db, FixedClock(NOW))
        yield Setup(db.pool, on.units, on.relay)


def requested() -> ConsultationRequested:
    ids = {k: uuid.uuid4() for k in ("consultation_request_id", "course_id", "patient_id")}
    return ConsultationRequested(**ids, patient_time_zone="America/Chicago", requested_at=NOW)


def work(n: int) -> tuple[str, tuple[object, ...]]:
    return "INSERT INTO work(n) VALUES ($1)", (n,)


@pytest.mark.parametrize("one_statement", [False, True])
async def test_emits_audits_and_writes_commit_together(setup: Setup, one_statement: bool) -> None:
    async with setup.units.start(one_statement=one_statement) as uow:
        first, second = uow.emit(requested()), uow.emit(requested())
        uow.audit(audit.entry("intake", None, "test.action"))
        uow.write([work(1)])
        assert await setup.relay.wait(0) is None  # nothing committed, nobody woken
    assert await setup.counts() == (2, 1, 1)
    published = await setup.pool.fetch("SELECT event_id FROM outbox ORDER BY id")
    assert [str(r["event_id"]) for r in published] == [first.id, second.id]
    assert await setup.relay.wait(0) == [""]  # once


async def test_nothing_is_written_when_the_use_case_raises(setup: Setup) -> None:
    with pytest.raises(LookupError):
        async with setup.units.start() as uow:
            await uow.conn.execute(
                "INSERT INTO work(n) VALUES (1)"
            )  # written at once, in the unit's transaction
            uow.emit(requested())
            uow.write([work(2)])
            raise LookupError("the use case refuses")
    assert await setup.counts() == (0, 0, 0)
    assert await setup.relay.wait(0) is None


async def test_a_failing_final_statement_takes_the_units_earlier_writes_with_it(setup: Setup) -> None:
    await setup.pool.execute("INSERT INTO work(n) VALUES (2)")
    with pytest.raises(asyncpg.UniqueViolationError):
        async with setup.units.start() as uow:
            await uow.conn.execute("INSERT INTO work(n) VALUES (1)")
            uow.emit(requested())
            uow.write([work(2)])  # taken: the statement fails, and with it the unit
    assert await setup.counts() == (0, 0, 1)
    assert await setup.relay.wait(0) is None


async def test_a_flush_lets_the_unit_read_its_writes_and_the_relay_waits_for_the_commit(setup: Setup) -> None:
    async with setup.units.start() as uow:
        uow.write([work(1)])
        uow.emit(requested())
        await uow.flush()
        assert await uow.conn.fetchval("SELECT count(*) FROM work") == 1
        assert await setup.relay.wait(0) is None  # sent, not committed
        uow.emit(requested())
    assert await setup.counts() == (2, 0, 1)
    assert await setup.relay.wait(0) == [""]
