"""Changes to a course: reschedule, cancel, no-show (by timer and by hand), a missed integration window,
and a high-risk screening that halts automation. Each is an event; timers and holds follow."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts import topics
from tests.support.conformance import assert_conformant
from tests.support.course import (
    CourseDriver,
    discharge,
    dose_with_integration_cancelled,
    dosing_check_in,
    names,
    screening,
)
from tests.support.stack import wait_for

CLINIC_ZONE = load_clinic(DEFAULT_CLINIC).time_zone


@pytest.fixture
def course_services() -> tuple[str, ...]:
    return ("intake", "scheduling")


def at(appt: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(appt["starts_at"]))


async def test_reschedule_cancel_no_show_and_overdue_integration(course: CourseDriver) -> None:
    course.start_on("mon", CLINIC_ZONE)  # a fixed day: "a day later" never lands where the real date puts it
    protocol = await course.prepared("iv")
    rebook = course.scheduling(f"/courses/{course.course_id}/dosing-appointments")
    grace = timedelta(minutes=protocol.no_show_grace_minutes)
    first = await course.open_appointment("dosing")

    # reschedule: one day later, same time; the no-show timer moves with it
    moved_to = at(first) + timedelta(days=1)
    if moved_to.weekday() >= 5:
        moved_to += timedelta(days=7 - moved_to.weekday())
    body = {"starts_at": moved_to.isoformat()}
    await course.post(course.scheduling(f"/appointments/{first['id']}/reschedule"), body)
    await course.wait("AppointmentRescheduled")
    assert await course.pending_timers(first["id"]) == [("no_show", moved_to + grace)]

    # cancel: the appointment's timers go, clinician and room are free again
    cancel = {"reason": "patient_request"}
    await course.post(course.scheduling(f"/appointments/{first['id']}/cancel"), cancel)
    await course.wait("AppointmentCancelled", kind="dosing", reason="patient_request")
    assert await course.pending_timers(first["id"]) == []

    # staff rebook; nobody checks in: the no-show timer marks it missed after the grace period
    await course.post(course.scheduling(f"/courses/{course.course_id}/dosing-appointments"), {}, 201)
    second = await course.open_appointment("dosing")
    course.clock.jump_to(at(second) + grace + timedelta(seconds=1))
    await course.wait("AppointmentMissed", kind="dosing", appointment_id=second["id"])

    # rebook; a manual no-show inside the grace period is refused; then the dose is given
    await course.post(course.scheduling(f"/courses/{course.course_id}/dosing-appointments"), {}, 201)
    third = await course.open_appointment("dosing")
    url = course.scheduling(f"/appointments/{third['id']}")
    course.clock.jump_to(at(third) + timedelta(minutes=5))
    await course.refused(f"{url}/no-show", {}, 409, "no_show_grace_period")
    await course.post(f"{url}/check-in", dosing_check_in())
    await course.post(f"{url}/administration", {"dose_mg": 35.0})
    administered = course.clock.now()
    for check in protocol.dosing.checks:
        course.clock.jump_to(administered + timedelta(minutes=check.offset_minutes, seconds=1))
        await course.wait("MonitoringCheckDue", check=check.check.value)
    await course.post(f"{url}/session", discharge())
    await course.wait("IntegrationDue", dose_number=1)

    # the integration is cancelled and not rebooked: the next dose waits; the window closes → overdue
    integration = await course.open_appointment("integration")
    await course.post(course.scheduling(f"/appointments/{integration['id']}/cancel"), cancel)
    await course.wait("AppointmentCancelled", kind="integration")
    await course.refused(rebook, {}, 409, "integration_outstanding")
    course.clock.jump_to(administered + timedelta(hours=protocol.integration.window_hours, seconds=1))
    await course.wait("IntegrationOverdue", dose_number=1)

    # a catch-up integration releases the hold: dose 2 is booked on its own
    await course.post(course.scheduling(f"/courses/{course.course_id}/integration-appointments"), {}, 201)
    await course.hold_integration(1)
    await course.wait("AppointmentScheduled", 4, kind="dosing")
    # dose 1 on Thursday, its window closed on Sunday, the catch-up on Monday: dose 2 on Tuesday is
    # five days after dose 1, past the four the cadence allows, and says so
    [stretched] = await course.wait("CadenceStretched")
    assert (stretched.data["dose_number"], stretched.data["reason"]) == (2, "booked_after_window")
    assert stretched.data["gap_days"] > stretched.data["max_days_between"], stretched.data

    assert names(course.tap.of(course.course_id, topics.SCHEDULING)) == [
        "AppointmentScheduled:consultation",
        "AppointmentCompleted:consultation",
        "AppointmentScheduled:dosing",
        "AppointmentRescheduled:dosing",
        "AppointmentCancelled:dosing",
        "AppointmentScheduled:dosing",
        "AppointmentMissed:dosing",
        *dose_with_integration_cancelled(protocol),
        "AppointmentScheduled:integration",
        "AppointmentCompleted:integration",
        "AppointmentScheduled:dosing",
        "CadenceStretched",
    ]

    # every record on the workflow topics parses with the CloudEvents SDK and matches its schema
    seen = await assert_conformant(course.stack)
    assert set(
        ["AppointmentCancelled", "AppointmentMissed", "AppointmentRescheduled", "IntegrationOverdue"]
    ) <= set(seen)


async def test_high_risk_screening_halts_the_course_until_review(course: CourseDriver) -> None:
    await course.prepared("iv")
    booked = await course.open_appointment("dosing")
    risky = screening(
        cssrs={
            "wish_to_be_dead": True,
            "suicidal_thoughts": True,
            "intent": True,
            "behaviour_past_3_months": False,
        }
    )
    out = await course.post(course.intake(f"/courses/{course.course_id}/screening"), risky, 201)
    assert out["halted"] is True
    await course.wait("UrgentReviewRequired")
    await course.wait("AppointmentCancelled", kind="dosing", reason="course_halted")
    assert await course.pending_timers(booked["id"]) == []

    # automation is stopped everywhere until a clinician reviews
    book = course.scheduling(f"/courses/{course.course_id}/dosing-appointments")
    await course.refused(book, {}, 409, "course_halted")
    decide = {"outcome": "eligible", "route": "iv"}
    eligibility = course.intake(f"/courses/{course.course_id}/eligibility")
    await course.refused(eligibility, decide, 409, "course_halted")

    # review: resume, rescreen, decide again; scheduling resumes and staff book the dose
    resolve = {"decision": "resume"}
    await course.post(course.intake(f"/courses/{course.course_id}/urgent-review/resolve"), resolve)
    await course.refused(eligibility, decide, 409, "rescreening_required")
    await course.post(course.intake(f"/courses/{course.course_id}/screening"), screening(), 201)
    await course.post(eligibility, decide)
    await course.wait("EligibilityDecided", 2)

    async def booked_again() -> dict[str, object]:
        resp = await course.http.post(book, json={})
        assert resp.status_code in (201, 409), resp.text
        return dict(resp.json()) if resp.status_code == 201 else {}

    assert await wait_for(booked_again, within=30)
    await course.wait("AppointmentScheduled", 2, kind="dosing")
    assert names(course.tap.of(course.course_id, topics.INTAKE)) == [
        "ConsultationRequested",
        "EligibilityDecided",
        "PreparationCompleted",
        "UrgentReviewRequired",
        "EligibilityDecided",
    ]
    assert names(course.tap.of(course.course_id, topics.SCHEDULING))[-3:] == [
        "AppointmentScheduled:dosing",
        "AppointmentCancelled:dosing",
        "AppointmentScheduled:dosing",
    ]

    # every record on the workflow topics parses with the CloudEvents SDK and matches its schema
    seen = await assert_conformant(course.stack)
    assert {"UrgentReviewRequired"} <= set(seen)
