"""Reminders as durable timers: fired once at their time, deferred out of quiet hours in the patient's
zone (across DST changes), cancelled or replaced when the appointment changes. Real PostgreSQL, SMTP
and a local HTTP SMS provider; a FixedClock walks through the nights."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from katflow_shared.contracts import (
    AppointmentCancelled,
    CourseCompleted,
    UrgentReviewRequired,
)
from katflow_shared.contracts.common import AppointmentKind, CancellationReason
from tests.integration.test_notifications_delivery import PHONE, Harness, make_harness
from tests.support.infra import Infra
from tests.support.patient_events import appointment_rescheduled

CHICAGO = "America/Chicago"


@pytest.fixture
async def h(infra: Infra) -> AsyncIterator[Harness]:
    async with make_harness(infra) as harness:
        yield harness


async def walk(
    h: Harness, until: datetime, step: timedelta = timedelta(minutes=15)
) -> list[tuple[datetime, str]]:
    """Move the clock to ``until`` in steps, firing timers and dispatching; return (when, text) sent."""
    seen: list[tuple[datetime, str]] = []
    while h.clock.now() < until:
        before = len(h.provider.texts())
        await h.advance(min(step, until - h.clock.now()))
        seen += [(h.clock.now(), m["text"]) for m in h.provider.texts()[before:]]
    return seen


async def pending(h: Harness) -> dict[str, datetime]:
    rows = await h.pool.fetch("SELECT key, due_at FROM timers WHERE status = 'pending' ORDER BY due_at")
    return {r["key"].rsplit(":", 1)[1]: r["due_at"] for r in rows}


def reminders(texts: list[tuple[datetime, str]]) -> list[tuple[datetime, str]]:
    return [(t, m) for t, m in texts if "appointment" in m and "confirmed" not in m and "moved" not in m]


async def test_reminders_fire_once_each_at_24h_and_2h(h: Harness) -> None:
    await h.contact()
    start = datetime(2024, 6, 6, 19, 0, tzinfo=UTC)  # Thursday 14:00 CDT
    await h.handle(h.appointment(start))
    await h.dispatch()
    assert await pending(h) == {
        "appointment_reminder_24h": start - timedelta(hours=24),
        "appointment_reminder_2h": start - timedelta(hours=2),
    }
    texts = reminders(await walk(h, start + timedelta(hours=1)))
    assert [t for t, _ in texts] == [start - timedelta(hours=24), start - timedelta(hours=2)]
    assert all("Thu 6 Jun 14:00 CDT" in m for _, m in texts)
    await walk(h, start + timedelta(days=2), step=timedelta(hours=6))
    assert len(reminders([(h.clock.now(), m["text"]) for m in h.provider.texts()])) == 2  # never again


async def test_rescheduled_appointment_old_reminders_never_fire(h: Harness) -> None:
    await h.contact()
    old = datetime(2024, 6, 6, 19, 0, tzinfo=UTC)
    booked = h.appointment(old)
    await h.handle(booked)
    new = old + timedelta(days=3, hours=-3)  # Sunday 11:00 CDT
    await h.handle(appointment_rescheduled(booked, new))
    await h.dispatch()
    assert await pending(h) == {
        "appointment_reminder_24h": new - timedelta(hours=24),
        "appointment_reminder_2h": new - timedelta(hours=2),
    }
    texts = reminders(await walk(h, new + timedelta(hours=1), step=timedelta(minutes=30)))
    assert [t for t, _ in texts] == [new - timedelta(hours=24), new - timedelta(hours=2)]
    assert all("Sun 9 Jun 11:00 CDT" in m for _, m in texts)
    assert [m.subject for m in h.mail()] == ["Your appointment is confirmed", "Your appointment has moved"]
    moved = h.mail()[1].message
    ics = next(p for p in moved.walk() if p.get_content_type() == "text/calendar").get_content()
    assert "DTSTART:20240609T160000Z" in ics and "SEQUENCE:0" not in ics


async def test_reminder_already_queued_is_cancelled_by_a_reschedule(h: Harness) -> None:
    await h.contact()
    start = datetime(2024, 6, 6, 19, 0, tzinfo=UTC)
    booked = h.appointment(start)
    await h.handle(booked)
    await h.dispatch()
    h.clock.current = start - timedelta(hours=24)
    await h.timers.fire_due()  # the reminder is queued but not yet handed to the provider
    await h.handle(
        AppointmentCancelled(
            appointment_id=booked.appointment_id,
            course_id=h.course_id,
            patient_id=h.patient_id,
            kind=AppointmentKind.CONSULTATION,
            reason=CancellationReason.PATIENT_REQUEST,
            cancelled_at=h.clock.now(),
        )
    )
    await walk(h, start + timedelta(hours=1))
    assert reminders([(h.clock.now(), m["text"]) for m in h.provider.texts()]) == []
    [queued] = await h.deliveries(notification="appointment_reminder_24h")
    assert (queued["status"], queued["reason"]) == ("cancelled", "cancelled")
    assert await pending(h) == {}
    assert [m.subject for m in h.mail()][-1] == "Your appointment was cancelled"
    cancel = h.mail()[-1].message
    assert (
        "METHOD:CANCEL"
        in next(p for p in cancel.walk() if p.get_content_type() == "text/calendar").get_content()
    )


async def test_quiet_hours_defer_reminders_to_0800_local_across_spring_forward(infra: Infra) -> None:
    async with make_harness(infra, start=datetime(2024, 3, 4, 15, tzinfo=UTC)) as h:
        await h.contact()
        start = datetime(2024, 3, 10, 13, 30, tzinfo=UTC)  # Sunday 08:30 CDT, the morning clocks jump
        await h.handle(h.appointment(start))
        await h.dispatch()
        expected = {
            "appointment_reminder_24h": datetime(2024, 3, 9, 14, 0, tzinfo=UTC),  # 08:00 CST Saturday
            "appointment_reminder_2h": datetime(2024, 3, 10, 13, 0, tzinfo=UTC),  # 08:00 CDT Sunday
        }
        assert await pending(h) == expected
        texts = reminders(await walk(h, start, step=timedelta(minutes=10)))
        assert [t for t, _ in texts] == list(expected.values())


async def test_fall_back_night_sends_one_reminder_at_0800_standard_time(infra: Infra) -> None:
    async with make_harness(infra, start=datetime(2024, 10, 28, 15, tzinfo=UTC)) as h:
        await h.contact()
        start = datetime(2024, 11, 3, 15, 0, tzinfo=UTC)  # Sunday 09:00 CST, after 01:00–02:00 ran twice
        await h.handle(h.appointment(start, AppointmentKind.DOSING))
        await h.dispatch()
        assert await pending(h) == {
            "plan_ahead": datetime(2024, 11, 1, 15, 0, tzinfo=UTC),  # 10:00 CDT Friday
            "appointment_reminder_24h": datetime(2024, 11, 2, 15, 0, tzinfo=UTC),  # 10:00 CDT Saturday
            "appointment_reminder_2h": datetime(2024, 11, 3, 14, 0, tzinfo=UTC),  # 07:00 CST → 08:00 CST
        }
        texts = await walk(h, start, step=timedelta(minutes=10))
        sent = [t for t, m in texts if "Sun 3 Nov 09:00 CST" in m]
        assert sent == [
            datetime(2024, 11, 1, 15, 0, tzinfo=UTC),
            datetime(2024, 11, 2, 15, 0, tzinfo=UTC),
            datetime(2024, 11, 3, 14, 0, tzinfo=UTC),
        ]
        plan_ahead = h.provider.texts()[0]["text"]
        assert "ride home" in plan_ahead and "no driving" in plan_ahead


async def test_urgent_review_cancels_pending_reminders_and_surveys(h: Harness) -> None:
    await h.contact()
    await h.handle(h.appointment(datetime(2024, 6, 10, 19, tzinfo=UTC)))
    await h.handle(
        CourseCompleted(course_id=h.course_id, patient_id=h.patient_id, doses=6, completed_at=h.clock.now())
    )
    assert len(await pending(h)) == 2 + 4  # two reminders; surveys at course end, 1, 3 and 6 months
    await h.handle(
        UrgentReviewRequired(
            alert_id=uuid.uuid4(), course_id=h.course_id, patient_id=h.patient_id, raised_at=h.clock.now()
        )
    )
    assert await pending(h) == {}


async def test_course_completion_surveys_are_scheduled_and_sent(h: Harness) -> None:
    await h.contact(sms=False)
    done = h.clock.now()
    await h.handle(
        CourseCompleted(course_id=h.course_id, patient_id=h.patient_id, doses=6, completed_at=done)
    )
    due = await h.pool.fetch("SELECT due_at FROM timers WHERE kind = 'notifications.survey' ORDER BY due_at")
    assert [r["due_at"] for r in due] == [done + timedelta(days=d) for d in (0, 30, 91, 182)]
    await h.advance(timedelta(seconds=1))
    assert [m.subject for m in h.mail()] == ["A short check-in survey"]
    await walk(h, done + timedelta(days=31), step=timedelta(days=1))
    assert [m.subject for m in h.mail()] == ["A short check-in survey"] * 2
    assert PHONE not in str(h.provider.texts())
