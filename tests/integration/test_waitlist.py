"""A full calendar waitlists a consultation request instead of dropping it: scheduling tells staff
once (ConsultationWaitlisted), looks again every ``waitlist_retry_minutes`` and books the first slot
that opens. Real PostgreSQL, scheduling's service layer in-process with a FixedClock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.domain.visits import CancelIn
from katflow_scheduling.handlers import changes
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts import ConsultationRequested, UrgentReviewRequired
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.emitter import HandlerContext
from tests.support.infra import Infra
from tests.support.scheduling import STAFF, Harness, harness

RETRY = timedelta(minutes=60)


@pytest.fixture
async def h(infra: Infra) -> AsyncIterator[Harness]:
    """One consultation clinician and a one-day horizon: a calendar that fills after a few requests."""
    clinic = load_clinic(DEFAULT_CLINIC)
    small = clinic.model_copy(
        update={"booking_horizon_days": 1, "clinicians": [c for c in clinic.clinicians if c.id == "clin-3"]}
    )
    async with harness(infra, small) as built:
        yield built


async def request(h: Harness) -> uuid.UUID:
    course_id = uuid.uuid4()
    await h.handle(
        ConsultationRequested(
            consultation_request_id=uuid.uuid4(),
            course_id=course_id,
            patient_id=uuid.uuid4(),
            patient_time_zone="America/Chicago",
            requested_at=h.clock.now(),
        )
    )
    return course_id


async def fill_until_waitlisted(h: Harness) -> tuple[list[uuid.UUID], uuid.UUID]:
    """Request consultations until one finds no slot; (the booked courses, the waitlisted one)."""
    booked: list[uuid.UUID] = []
    for _ in range(60):
        course_id = await request(h)
        names = [name for name, _ in await h.pump()]
        if names == ["ConsultationWaitlisted"]:
            return booked, course_id
        assert names == ["AppointmentScheduled"], names
        booked.append(course_id)
    raise AssertionError("the calendar never filled")


def waitlisted(h: Harness, course_id: uuid.UUID) -> list[dict[str, object]]:
    return [
        data
        for name, data in h.events
        if name == "ConsultationWaitlisted" and data["course_id"] == str(course_id)
    ]


async def retries(h: Harness) -> list[datetime]:
    return [due for kind, due in await h.timers() if kind == "consultation_retry"]


async def consultations(h: Harness, course_id: uuid.UUID) -> int:
    return int(
        await h.pool.fetchval(
            "SELECT count(*) FROM appointments WHERE course_id = $1 AND kind = 'consultation'", course_id
        )
    )


async def test_a_full_calendar_waitlists_the_request_and_books_the_first_slot_that_opens(h: Harness) -> None:
    booked, waiting = await fill_until_waitlisted(h)
    assert len(booked) >= 4  # the calendar did take bookings first
    now = h.clock.now()
    [event] = waitlisted(h, waiting)
    assert datetime.fromisoformat(str(event["next_attempt_at"])) == now + RETRY
    assert await consultations(h, waiting) == 0
    assert await retries(h) == [now + RETRY]

    # still full an hour later: looked again quietly (no second announcement), and will look again
    assert "AppointmentScheduled" not in [name for name, _ in await h.advance(RETRY)]
    assert len(waitlisted(h, waiting)) == 1 and await consultations(h, waiting) == 0
    assert await retries(h) == [now + 2 * RETRY]

    # a patient cancels: the next look books the waiting request into the freed slot
    first = await h.open(booked[0], "consultation")
    await changes.cancel(h.runtime, first["id"], CancelIn(reason="patient_request", cancelled_by=STAFF))
    await h.pump()
    scheduled = [data for name, data in await h.advance(RETRY) if name == "AppointmentScheduled"]
    assert [(d["course_id"], d["kind"]) for d in scheduled] == [(str(waiting), "consultation")]
    assert datetime.fromisoformat(scheduled[0]["starts_at"]) == first["starts_at"]  # the freed slot
    assert await retries(h) == []
    assert await consultations(h, waiting) == 1 and len(waitlisted(h, waiting)) == 1
    assert await h.advance(3 * RETRY) == []  # done: no more looks


async def test_a_halted_course_stops_waiting(h: Harness) -> None:
    _, waiting = await fill_until_waitlisted(h)
    plan_patient = await h.pool.fetchval("SELECT patient_id FROM courses WHERE id = $1", waiting)
    alert = UrgentReviewRequired(
        alert_id=uuid.uuid4(), course_id=waiting, patient_id=plan_patient, raised_at=h.clock.now()
    )
    async with h.pool.acquire() as conn, conn.transaction():
        await h.course.on_urgent_review(
            alert, HandlerContext(conn, Envelope(alert, "/test"), h.runtime.emitter)
        )
    assert await retries(h) == []
    await h.pool.execute("DELETE FROM appointments")  # the whole calendar frees up
    assert await h.advance(3 * RETRY) == [] and await consultations(h, waiting) == 0
