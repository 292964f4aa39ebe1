"""The consumer's use cases on the kernel's unit of work, on a recording connection: a write-only
use case and its event's inbox row are one statement (no BEGIN, no COMMIT); another runs in a
transaction whose last statement carries the inbox row; a timer's unit sends its writes on the
worker's transaction. Against PostgreSQL (a redelivered event writes nothing):
tests/integration/test_consumer_units.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from katflow_shared import timers
from katflow_shared.clock import FixedClock
from katflow_shared.contracts import ConsultationRequested, PatientContactUpdated
from katflow_shared.contracts.patient_contact import ChannelConsent
from katflow_shared.messaging import outbox
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.consumer import UseCase, apply
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.settings import ServiceSettings
from katflow_shared.unit_of_work import UnitOfWork, Units
from katflow_shared.wakeup import Announcer
from tests.support.recording_db import Pool

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
WORK = ("INSERT INTO work(n) VALUES ($1)", (7,))


def units(pool: Pool) -> Units:
    emitter = Emitter(ServiceSettings(environment="test"), Announcer(outbox.CHANNEL))
    return Units(pool, FixedClock(NOW), emitter, Announcer(timers.CHANNEL))  # type: ignore[arg-type]


def requested() -> Envelope:
    ids = {k: uuid.uuid4() for k in ("consultation_request_id", "course_id", "patient_id")}
    event = ConsultationRequested(**ids, patient_time_zone="America/Chicago", requested_at=NOW)
    return Envelope(event=event, source="katflow/intake", correlation_id="request-1")


async def write_and_emit(event: ConsultationRequested, uow: UnitOfWork) -> None:
    uow.write([WORK])
    uow.emit(event)


@pytest.mark.parametrize("one_statement", [True, False])
async def test_a_use_case_and_its_inbox_row_are_one_statement(one_statement: bool) -> None:
    pool = Pool()
    assert await apply(units(pool), "group", UseCase(write_and_emit, one_statement), requested())
    statements = [s for s in pool.log if s not in ("BEGIN", "COMMIT")]
    assert pool.log == statements if one_statement else ["BEGIN", *statements, "COMMIT"]
    assert len(statements) == 1
    assert all(f"INSERT INTO {t}" in statements[0] for t in ("inbox", "work", "outbox"))


async def test_a_transactional_use_case_reads_first_and_sends_the_inbox_row_with_its_writes() -> None:
    pool = Pool(rows=[{"n": 1}])

    async def read_then_write(event: ConsultationRequested, uow: UnitOfWork) -> None:
        await uow.conn.fetchrow("SELECT n FROM work FOR UPDATE")
        uow.write([WORK])

    assert await apply(units(pool), "group", UseCase(read_then_write), requested())
    assert pool.log[0] == "BEGIN" and pool.log[1].startswith("SELECT n") and pool.log[-1] == "COMMIT"
    assert len(pool.log) == 4 and "INSERT INTO inbox" in pool.log[2]


async def test_an_event_with_contact_details_is_audited_in_the_same_statement() -> None:
    pool = Pool()
    no = ChannelConsent(granted=False)
    event = PatientContactUpdated(
        patient_id=uuid.uuid4(),
        given_name="Pat",
        family_name="Doe",
        time_zone="America/Chicago",
        email_consent=no,
        sms_consent=no,
        updated_at=NOW,
    )

    async def nothing(event: PatientContactUpdated, uow: UnitOfWork) -> None:
        return None

    envelope = Envelope(event=event, source="katflow/intake")
    assert await apply(units(pool), "group", UseCase(nothing, one_statement=True), envelope)
    assert len(pool.log) == 1 and "INSERT INTO audit_log" in pool.log[0]


async def test_a_timers_unit_sends_its_writes_on_the_callers_transaction() -> None:
    pool = Pool()
    async with pool.acquire() as conn, conn.transaction():
        async with units(pool).on(conn, now=NOW) as uow:  # type: ignore[arg-type]
            uow.write([WORK])
            uow.schedule([("reminder", "a1", NOW, None)])
            assert uow.now == NOW and len(pool.log) == 1
        assert len(pool.log) == 2 and "INSERT INTO timers" in pool.log[1]
    assert pool.log[-1] == "COMMIT"


async def test_a_unit_on_a_connection_without_a_transaction_is_refused() -> None:
    pool = Pool()
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with units(pool).on(conn):  # type: ignore[arg-type]
                pass
