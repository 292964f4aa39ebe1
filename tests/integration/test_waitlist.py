"""A full calendar waitlists a consultation or a dose instead of dropping it: scheduling tells staff
once (AppointmentWaitlisted), looks again every ``waitlist_retry_minutes`` and books the first slot
that opens; the wait ends when the course no longer needs it. Real PostgreSQL, scheduling's service
layer in-process with a FixedClock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from katflow_scheduling.adapters import postgres_waitlist as waitlist
from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.service_layer import booking, changes
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts import ConsultationRequested, EligibilityDecided, Event, UrgentReviewRequired
from katflow_shared.contracts.common import CancellationReason, EligibilityOutcome
from katflow_shared.messaging.cloudevents import Envelope
from tests.support.infra import Infra
from tests.support.scheduling import STAFF, Harness, harness

RETRY = timedelta(minutes=60)


@pytest.fixture
async def h(infra: Infra) -> AsyncIterator[Harness]:
    """One clinician for consultations and doses, one room, a one-day horizon: a calendar that fills
    after a few bookings."""
    clinic = load_clinic(DEFAULT_CLINIC)
    small = clinic.model_copy(
        update={
            "booking_horizon_days": 1,
            "clinicians": [c for c in clinic.clinicians if c.id in ("clin-1", "ther-1")],
            "rooms": clinic.rooms[:1],
        }
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
        if names == ["AppointmentWaitlisted"]:
            return booked, course_id
        assert names == ["AppointmentScheduled"], names
        booked.append(course_id)
    raise AssertionError("the calendar never filled")


def waitlisted(h: Harness, course_id: uuid.UUID) -> list[dict[str, object]]:
    return [
        data
        for name, data in h.events
        if name == "AppointmentWaitlisted" and data["course_id"] == str(course_id)
    ]


async def retries(h: Harness) -> list[datetime]:
    return [due for kind, due in await h.timers() if kind == "booking_retry"]


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
    [row] = await waitlist.page(h.pool)  # what GET /v1/waitlist shows
    assert dict(row) == {
        "course_id": waiting,
        "kind": "consultation",
        "waiting_since": now,
        "looks": 1,
        "next_look_at": now + 2 * RETRY,
    }

    # a patient cancels: the waiting request looks at once and takes the freed slot
    first = await h.open(booked[0], "consultation")
    await changes.cancel(h.units, first["id"], CancellationReason.PATIENT_REQUEST, STAFF)
    await h.pump()
    scheduled = [data for name, data in await h.advance(timedelta(0)) if name == "AppointmentScheduled"]
    assert [(d["course_id"], d["kind"]) for d in scheduled] == [(str(waiting), "consultation")]
    assert datetime.fromisoformat(scheduled[0]["starts_at"]) == first["starts_at"]  # the freed slot
    assert await retries(h) == []
    assert await consultations(h, waiting) == 1 and len(waitlisted(h, waiting)) == 1
    assert await waitlist.page(h.pool) == []
    assert await h.advance(3 * RETRY) == []  # done: no more looks


async def test_a_halt_ends_the_wait_and_resuming_the_course_books_or_waits_again(h: Harness) -> None:
    _, waiting = await fill_until_waitlisted(h)
    patient = await h.pool.fetchval("SELECT patient_id FROM courses WHERE id = $1", waiting)
    now = h.clock.now()
    alert = UrgentReviewRequired(alert_id=uuid.uuid4(), course_id=waiting, patient_id=patient, raised_at=now)
    await on(h, h.course.on_urgent_review, alert)
    assert await retries(h) == []
    await h.pool.execute("DELETE FROM appointments")  # the whole calendar frees up
    assert await h.advance(3 * RETRY) == [] and await consultations(h, waiting) == 0  # halted: no booking

    eligible = EligibilityDecided(
        course_id=waiting, patient_id=patient, outcome=EligibilityOutcome.ELIGIBLE, decided_at=h.clock.now()
    )
    await on(h, h.course.on_eligibility_decided, eligible)  # resumed: it books at once
    assert [(n, d["course_id"]) for n, d in await h.pump()] == [("AppointmentScheduled", str(waiting))]
    assert await consultations(h, waiting) == 1 and await retries(h) == []


async def test_a_failed_look_leaves_the_next_one_armed(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    _, waiting = await fill_until_waitlisted(h)
    now = h.clock.now()

    async def broken(*_: Any) -> None:
        raise ValueError("say, a clinic file the search cannot use")

    monkeypatch.setattr(booking, "book_consultation", broken)
    await h.advance(RETRY)  # the look fails (logged as an error) ...
    assert await retries(h) == [now + 2 * RETRY]  # ... and the wait goes on
    monkeypatch.undo()
    await h.pool.execute("DELETE FROM appointments")
    assert [(n, d["course_id"]) for n, d in await h.advance(RETRY)] == [
        ("AppointmentScheduled", str(waiting))
    ]


async def on(h: Harness, handler: Any, event: Event) -> None:
    async with h.units.start(Envelope(event, "/test")) as uow:
        await handler(event, uow)


async def test_a_dose_waits_for_a_slot_and_a_booking_by_hand_ends_the_wait(h: Harness) -> None:
    booked: list[uuid.UUID] = []
    for _ in range(40):  # prepared courses, each booking its first dose, until the calendar is full
        course_id = await h.prepared_course("iv")
        if waitlisted(h, course_id):
            break
        booked.append(course_id)
    else:
        raise AssertionError("the calendar never filled")
    waiting = course_id
    [event] = waitlisted(h, waiting)
    assert (event["kind"], event["dose_number"]) == ("dosing", 1) and len(booked) >= 1
    assert await retries(h) == [h.clock.now() + RETRY]

    # a slot opens and staff book the waiting dose by hand before the next look
    dose = await h.open(booked[0], "dosing")
    await changes.cancel(h.units, dose["id"], CancellationReason.CLINIC_REQUEST, STAFF)
    await changes.book_dose(h.units, h.deps, waiting, None)
    await h.pump()
    assert await h.advance(RETRY) == []  # the look finds the dose booked: the wait ends quietly
    assert await retries(h) == [] and len(waitlisted(h, waiting)) == 1
    doses = await h.pool.fetchval(
        "SELECT count(*) FROM appointments WHERE course_id = $1 AND kind = 'dosing'", waiting
    )
    assert doses == 1
