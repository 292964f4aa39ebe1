"""scheduling's durable timers against a real PostgreSQL: monitoring prompts, IntegrationDue,
IntegrationOverdue and no-shows fire once at their time through the outbox; changes move or cancel
them; two workers never fire one timer twice; concurrent bookings never double-book.

The service layer runs in-process with a FixedClock; scheduling's own events are fed back to its
handlers from the outbox, as its consumer would.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg

from katflow_scheduling.adapters.postgres_courses import ensure_course, load_plan
from katflow_scheduling.domain.visits import Discharge
from katflow_scheduling.entrypoints import timers
from katflow_scheduling.service_layer import changes, visits
from katflow_shared.contracts import (
    PreparationCompleted,
)
from katflow_shared.contracts.common import CancellationReason, Route
from katflow_shared.messaging.errors import TransientError
from katflow_shared.timers import TimerWorker
from tests.support.scheduling import STAFF, START, Harness


def discharge() -> Discharge:
    return Discharge.model_validate(
        {
            "vitals": {"post_dose_bp": {"systolic": 130, "diastolic": 82}},
            "discharge_assessment_passed": True,
        }
    )


def kinds(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name if "check" not in data else f"{name}:{data['check']}" for name, data in events]


async def test_monitoring_prompts_fire_once_each_at_their_offsets(h: Harness) -> None:
    course = await h.prepared_course("iv")
    appt, given = await h.give_dose(course)
    assert await h.timers() == [
        ("monitoring_check", given + timedelta(minutes=40)),
        ("monitoring_check", given + timedelta(minutes=100)),
    ]
    assert await h.advance(timedelta(minutes=39, seconds=59)) == []
    assert kinds(await h.advance(timedelta(seconds=1))) == ["MonitoringCheckDue:blood_pressure"]
    assert kinds(await h.at(given + timedelta(minutes=100))) == ["MonitoringCheckDue:discharge"]
    assert await h.advance(timedelta(hours=1)) == []  # fired means fired: never again
    assert [k for k, _ in await h.timers("fired")] == ["monitoring_check", "monitoring_check"]
    due = [data["due_at"] for name, data in h.events if name == "MonitoringCheckDue"]
    assert due == [(given + timedelta(minutes=m)).isoformat().replace("+00:00", "Z") for m in (40, 100)]
    # each alert names the clinician booked for the session, who gets it with the on-call group
    booked = await h.pool.fetchval("SELECT clinician_id FROM appointments WHERE id = $1", appt)
    assert booked and {d["clinician_id"] for n, d in h.events if n == "MonitoringCheckDue"} == {booked}


async def test_discharge_arms_integration_timers_and_holding_it_cancels_the_overdue(h: Harness) -> None:
    course = await h.prepared_course("iv")
    appt, given = await h.give_dose(course)
    await h.at(given + timedelta(minutes=100))
    await visits.record_session(h.units, h.deps, appt, discharge(), STAFF)
    events = await h.pump()
    assert (
        kinds(events)
        == ["SessionAdministered", "AppointmentCompleted", "AppointmentScheduled", "IntegrationDue"][:3]
    )
    booked = await h.pool.fetchval("SELECT clinician_id FROM appointments WHERE id = $1", appt)
    assert events[0][1]["clinician_id"] == booked
    assert kinds(await h.advance(timedelta(seconds=1))) == ["IntegrationDue"]
    closes = given + timedelta(hours=72)
    assert ("integration_overdue", closes) in await h.timers()
    integration = await h.open(course, "integration")
    await h.at(integration["starts_at"])
    await visits.complete(h.units, integration["id"], "ther-1")
    assert kinds(await h.pump())[:2] == ["AppointmentCompleted", "AppointmentScheduled"]  # the next dose
    assert ("integration_overdue", closes) not in await h.timers()
    assert "IntegrationOverdue" not in kinds(await h.at(closes + timedelta(hours=1)))


async def test_integration_overdue_fires_once_when_none_is_held(h: Harness) -> None:
    course = await h.prepared_course("iv")
    appt, given = await h.give_dose(course)
    await h.at(given + timedelta(minutes=100))
    await visits.record_session(h.units, h.deps, appt, discharge(), STAFF)
    await h.advance(timedelta(seconds=1))
    integration = await h.open(course, "integration")
    await changes.cancel(h.units, integration["id"], CancellationReason.PATIENT_REQUEST, STAFF)
    closes = given + timedelta(hours=72)
    assert "IntegrationOverdue" not in kinds(await h.at(closes - timedelta(seconds=1)))
    late = await h.advance(timedelta(seconds=1))
    assert kinds(late) == ["IntegrationOverdue"] and late[0][1]["dose_number"] == 1
    assert kinds(await h.advance(timedelta(days=3))) == []
    overdue_at = await h.pool.fetchval("SELECT integration_overdue_at FROM sessions")
    assert overdue_at == closes


async def test_reschedule_moves_the_no_show_timer_and_cancel_drops_it(h: Harness) -> None:
    course = await h.prepared_course("iv")
    appt = await h.open(course, "dosing")
    grace = timedelta(minutes=15)
    assert await h.timers() == [("no_show", appt["starts_at"] + grace)]
    later = appt["starts_at"] + timedelta(days=1)
    await changes.reschedule(h.units, h.deps, appt["id"], later)
    assert await h.timers() == [("no_show", later + grace)]
    assert kinds(await h.pump()) == ["AppointmentRescheduled"]
    assert await h.at(appt["starts_at"] + grace + timedelta(minutes=1)) == []  # the old time passes quietly
    await changes.cancel(h.units, appt["id"], CancellationReason.CLINIC_REQUEST, STAFF)
    assert await h.timers() == []
    assert "AppointmentMissed" not in kinds(await h.at(later + timedelta(hours=1)))


async def test_no_show_timer_marks_missed_only_after_the_grace_period(h: Harness) -> None:
    course = await h.prepared_course("iv")
    appt = await h.open(course, "dosing")
    assert "AppointmentMissed" not in kinds(await h.at(appt["starts_at"] + timedelta(minutes=14, seconds=59)))
    missed = await h.advance(timedelta(seconds=1))
    assert kinds(missed) == ["AppointmentMissed"] and missed[0][1]["appointment_id"] == str(appt["id"])
    # staff rebook by hand: a new appointment with its own timer
    await changes.book_dose(h.units, h.deps, course, None)
    assert [k for k, _ in await h.timers()] == ["no_show"]


async def test_two_workers_fire_each_due_timer_exactly_once(h: Harness) -> None:
    courses = [await h.prepared_course("iv") for _ in range(4)]
    await h.pump()
    second = TimerWorker(h.runtime, timers.handlers(h.deps, h.units), batch=3, announcer=h.units.timing)
    h.clock.advance(timedelta(days=30))  # every no-show timer is due

    async def drain(worker: TimerWorker) -> int:
        fired = 0
        while n := await worker.fire_due():
            fired += n
        return fired

    counts = await asyncio.gather(drain(h.worker), drain(second), drain(h.worker))
    assert sum(counts) == len(courses)
    missed = [e for e in await h.pump() if e[0] == "AppointmentMissed"]
    assert len(missed) == len(courses) and len({m[1]["appointment_id"] for m in missed}) == len(courses)


async def test_concurrent_preparations_never_double_book_rooms_or_clinicians(h: Harness) -> None:
    ids = [(uuid.uuid4(), uuid.uuid4()) for _ in range(12)]
    async with h.pool.acquire() as conn:
        for course_id, patient_id in ids:
            await ensure_course(conn, course_id, patient_id, "America/New_York")

    async def prepare(course_id: uuid.UUID, patient_id: uuid.UUID) -> None:
        event = PreparationCompleted(
            course_id=course_id,
            patient_id=patient_id,
            route=Route.INTRANASAL,
            protocol_version="intranasal@1",
            patient_time_zone="America/New_York",
            completed_at=START,
        )
        for attempt in range(20):
            try:
                return await h.handle(event)
            except (
                TransientError,
                asyncpg.SerializationError,
                asyncpg.DeadlockDetectedError,
            ):  # consumer retries
                await asyncio.sleep(0.05 * attempt)

    await asyncio.gather(*(prepare(c, p) for c, p in ids))
    assert await h.pool.fetchval("SELECT count(*) FROM appointments WHERE kind = 'dosing'") == len(ids)
    overlaps = await h.pool.fetchval(
        "SELECT count(*) FROM appointments a JOIN appointments b ON a.id < b.id AND a.during && b.during"
        " AND (a.clinician_id = b.clinician_id OR a.room_id = b.room_id)"
    )
    assert overlaps == 0


async def test_a_course_created_by_its_first_event_has_the_plan_its_rows_give(h: Harness) -> None:
    """The plan ``ensure_course`` returns for a course it created (without reading it back) is the
    one ``load_plan`` reads; a course that existed gives none, and is not changed."""
    course_id, patient_id = uuid.uuid4(), uuid.uuid4()
    async with h.pool.acquire() as conn:
        created = await ensure_course(conn, course_id, patient_id, "America/Chicago")
        assert created is not None and created == await load_plan(conn, course_id)
        assert await ensure_course(conn, course_id, uuid.uuid4(), "Europe/Madrid") is None
        assert await load_plan(conn, course_id) == created
