"""Every rule a staff request can break is answered 4xx with the rule's name (detail[0].type), and
nothing changes. Walks one course (a patient in Honolulu: their local hours narrow the clinic's)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from katflow_shared.treatment_protocols import load_protocols
from tests.support.course import CourseDriver, discharge, dosing_check_in, screening

IV = load_protocols().get("iv@1")
NY = ZoneInfo("America/New_York")


@pytest.fixture
def course_services() -> tuple[str, ...]:
    return ("intake", "scheduling")


async def test_intake_rules_are_named(course: CourseDriver) -> None:
    nobody = course.intake(f"/courses/{uuid.uuid4()}/screening")
    await course.refused(nobody, screening(), 404, "course_not_found")
    await course.request("iv")
    c = lambda path: course.intake(f"/courses/{course.course_id}{path}")  # noqa: E731
    eligible = {"outcome": "eligible", "route": "iv"}
    await course.refused(c("/eligibility"), eligible, 409, "screening_required")
    consent = {"document_version": IV.preparation.consent_document, "signed": True}
    await course.refused(c("/preparation/consent"), consent, 409, "eligibility_required")
    await course.refused(c("/screening"), screening(phq9=30), 422, "less_than_equal")  # schema: field named

    await course.post(c("/screening"), screening(contraindications=["arteriovenous_malformation"]), 201)
    await course.refused(c("/eligibility"), eligible, 422, "contraindication_blocks_dosing")
    await course.post(c("/screening"), screening(contraindications=["pregnancy"]), 201)
    await course.refused(c("/eligibility"), eligible, 422, "clinician_review_required")
    await course.refused(
        c("/eligibility"), {**eligible, "route": None, "flags_reviewed": True}, 422, "route_required"
    )
    await course.post(c("/eligibility"), {**eligible, "flags_reviewed": True})

    await course.refused(
        c("/preparation/consent"), {**consent, "document_version": "old@0"}, 422, "consent_document_version"
    )
    await course.refused(c("/preparation/baseline"), {"phq9": 17}, 422, "baseline_measures_required")
    rems = {"enrollment_id": "REMS-1"}
    await course.refused(c("/preparation/rems-enrollment"), rems, 422, "rems_not_applicable")
    await course.prepare(IV.preparation.consent_document, IV.preparation.sessions_required, rems=False)
    await course.wait("PreparationCompleted")
    other = {**eligible, "route": "intranasal", "flags_reviewed": True}
    await course.refused(c("/eligibility"), other, 409, "preparation_already_completed")
    assert len([e for e in course.tap.of(course.course_id) if e.type == "PreparationCompleted"]) == 1


async def test_scheduling_rules_are_named(course: CourseDriver) -> None:
    course.start_on("mon", NY.key)  # a fixed June day: the days and hours below never follow the real date
    await course.request("iv", time_zone="Pacific/Honolulu")
    await course.attend_consultation()
    await course.screen_and_decide("iv")
    await course.prepare(IV.preparation.consent_document, IV.preparation.sessions_required, rems=False)
    dose = await course.open_appointment("dosing")
    start = datetime.fromisoformat(dose["starts_at"]).astimezone(NY)
    a = lambda path: course.scheduling(f"/appointments/{dose['id']}{path}")  # noqa: E731
    book = course.scheduling(f"/courses/{course.course_id}/dosing-appointments")

    await course.refused(
        course.scheduling(f"/appointments/{uuid.uuid4()}/check-in"),
        dosing_check_in(),
        404,
        "appointment_not_found",
    )
    await course.refused(
        course.scheduling(f"/courses/{uuid.uuid4()}/dosing-appointments"),
        {},
        404,
        "course_not_found",
    )
    await course.refused(a("/check-in"), dosing_check_in(), 409, "check_in_too_early")
    await course.refused(a("/complete"), {}, 409, "dosing_completes_with_session")
    await course.refused(a("/administration"), {"dose_mg": 35}, 409, "appointment_state")
    await course.refused(book, {}, 409, "dose_already_booked")
    saturday = start + timedelta(days=(5 - start.weekday()) % 7 or 7)
    move = lambda when: {"starts_at": when.isoformat()}  # noqa: E731
    await course.refused(a("/reschedule"), move(saturday), 422, "outside_opening_hours")
    morning = start.replace(hour=9, minute=0) + timedelta(days=1 if start.weekday() < 4 else 3)
    await course.refused(a("/reschedule"), move(morning), 422, "outside_patient_hours")  # 03:00 in Honolulu
    await course.refused(a("/reschedule"), move(start - timedelta(days=3)), 422, "starts_in_past")

    course.clock.jump_to(start)
    no_ride = dosing_check_in()
    no_ride["dosing"]["ride_home_confirmed"] = False
    await course.refused(a("/check-in"), no_ride, 422, "ride_home_required")
    fed = dosing_check_in()
    fed["dosing"]["fasting_confirmed"] = False
    await course.refused(a("/check-in"), fed, 422, "fasting_required")
    await course.refused(a("/check-in"), {}, 422, "pre_dose_checks_required")
    await course.post(a("/check-in"), dosing_check_in())
    await course.refused(a("/check-in"), dosing_check_in(), 409, "appointment_state")
    await course.post(a("/administration"), {"dose_mg": 35})
    await course.refused(a("/session"), discharge(), 409, "minimum_monitoring")
    course.clock.jump_to(course.clock.now() + timedelta(minutes=IV.dosing.monitoring_minutes, seconds=1))
    await course.post(a("/session"), discharge())

    integration = await course.open_appointment("integration")
    i = lambda path: course.scheduling(f"/appointments/{integration['id']}{path}")  # noqa: E731
    late = datetime.fromisoformat(integration["starts_at"]).astimezone(NY) + timedelta(days=4)
    late += timedelta(days=(7 - late.weekday()) % 7 if late.weekday() >= 5 else 0)  # a weekday, open hours
    await course.refused(i("/reschedule"), move(late), 422, "integration_window")
    catch_up = course.scheduling(f"/courses/{course.course_id}/integration-appointments")
    await course.refused(catch_up, {}, 409, "integration_already_booked")
    await course.refused(i("/complete"), {}, 409, "appointment_not_started")
    await course.refused(i("/no-show"), {}, 409, "no_show_grace_period")
    await course.refused(book, {}, 409, "integration_outstanding")
    # nothing a refused request touched changed: one dose given, one integration booked
    assert [(x["kind"], x["status"]) for x in await course.appointments()] == [
        ("consultation", "completed"),
        ("dosing", "completed"),
        ("integration", "scheduled"),
    ]
