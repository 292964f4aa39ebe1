"""An intranasal esketamine course under the REMS rules, from the web form to CourseCompleted.

REMS: the patient is enrolled before the first dose, the site is certified, blood pressure is taken
before dosing and about 40 minutes after, monitoring lasts at least 2 hours and discharge follows a
clinician's assessment. Twice weekly in weeks 1–4, weekly in weeks 5–8 (protocol intranasal@1).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts import topics
from katflow_shared.treatment_protocols import load_protocols
from tests.support.conformance import assert_conformant
from tests.support.course import (
    CourseDriver,
    discharge,
    dose_steps,
    dosing_check_in,
    names,
)

PROTOCOL = load_protocols().get("intranasal@1")
CHECKS = [(c.check.value, c.offset_minutes) for c in PROTOCOL.dosing.checks]
CLINIC_ZONE = ZoneInfo(load_clinic(DEFAULT_CLINIC).time_zone)


async def first_dose_under_rems(course: CourseDriver) -> None:
    appt = await course.open_appointment("dosing")
    course.clock.jump_to(datetime.fromisoformat(appt["starts_at"]))
    url = course.scheduling(f"/appointments/{appt['id']}")
    high = dosing_check_in()
    high["dosing"]["blood_pressure"] = {"systolic": 150, "diastolic": 92}
    await course.refused(f"{url}/check-in", high, 422, "blood_pressure_above_dosing_limit")
    await course.post(f"{url}/check-in", dosing_check_in())
    await course.post(f"{url}/administration", {"dose_mg": 56.0})
    administered = course.clock.now()
    course.clock.jump_to(administered + timedelta(minutes=40, seconds=1))
    await course.wait("MonitoringCheckDue", check="blood_pressure")
    no_bp = {**discharge(), "vitals": {"max_systolic": 150}}
    course.clock.jump_to(administered + timedelta(minutes=110))
    await course.refused(f"{url}/session", discharge(), 409, "minimum_monitoring")
    course.clock.jump_to(administered + timedelta(minutes=120, seconds=1))
    await course.wait("MonitoringCheckDue", check="discharge")
    await course.refused(f"{url}/session", no_bp, 422, "post_dose_blood_pressure_required")
    unassessed = {**discharge(), "discharge_assessment_passed": False}
    await course.refused(f"{url}/session", unassessed, 422, "discharge_assessment_required")
    await course.post(f"{url}/session", discharge())
    await course.wait("IntegrationDue", dose_number=1)
    await course.hold_integration(1)


@pytest.mark.parametrize("start", ["wed", "sat", "sun"])
async def test_intranasal_course_under_rems_runs_to_completion(course: CourseDriver, start: str) -> None:
    course.start_on(start, CLINIC_ZONE.key)
    await course.request("intranasal")
    await course.attend_consultation()
    await course.screen_and_decide("intranasal")
    prep = PROTOCOL.preparation
    answers = await course.prepare(prep.consent_document, prep.sessions_required, rems=False)
    assert answers[-1]["missing"] == ["rems_enrollment"]  # no dose before REMS enrolment
    enrol = {"enrollment_id": "REMS-123456"}
    done = await course.post(course.intake(f"/courses/{course.course_id}/preparation/rems-enrollment"), enrol)
    assert done["prepared"] is True
    await course.wait("PreparationCompleted", protocol_version="intranasal@1")

    await first_dose_under_rems(course)
    for number in range(2, PROTOCOL.total_doses + 1):
        await course.dose(number, CHECKS)
    await course.wait("CourseCompleted", doses=PROTOCOL.total_doses)

    cid = course.course_id
    intake = ["ConsultationRequested", "EligibilityDecided", "PreparationCompleted"]
    assert names(course.tap.of(cid, topics.INTAKE)) == intake
    expected = ["AppointmentScheduled:consultation", "AppointmentCompleted:consultation"]
    expected += dose_steps(PROTOCOL) * PROTOCOL.total_doses + ["CourseCompleted"]
    got = course.tap.of(cid, topics.SCHEDULING)
    assert names(got) == expected, [(e.type, e.id[:8], e.data.get("dose_number")) for e in got]

    # cadence: twice weekly (≥ 3 days apart) for 8 doses, then weekly; never two on one day
    given = [e.data for e in course.tap.of(cid) if e.type == "SessionAdministered"]
    assert {g["protocol_version"] for g in given} == {"intranasal@1"} and {g["route"] for g in given} == {
        "intranasal"
    }
    days = [datetime.fromisoformat(g["administered_at"]).astimezone(CLINIC_ZONE).date() for g in given]
    gaps = [(b - a).days for a, b in zip(days, days[1:], strict=False)]
    assert all(3 <= g <= 4 for g in gaps[:7]), gaps  # the plan keeps the phase's window ...
    assert all(g == 7 for g in gaps[7:]), gaps
    assert {d.weekday() for d in days} <= {0, 1, 2, 3, 4}, days  # ... on days the clinic is open
    plan = await course.plan()
    assert [(d["dose_number"], d["planned_day"]) for d in plan] == [
        (n, day.isoformat()) for n, day in enumerate(days, 1)
    ], plan  # every dose given on the day the plan had for it
    assert not [e for e in course.tap.of(cid) if e.type == "CadenceStretched"]
    monitored = [
        datetime.fromisoformat(g["monitoring_ended_at"]) - datetime.fromisoformat(g["administered_at"])
        for g in given
    ]
    assert min(monitored) >= timedelta(hours=2)

    # notifications reacted to each step (channels, wording and extra messages are notifications' own)
    # REMS monitoring form due within 7 days of every session
    await course.assert_notified_each_step(cid, PROTOCOL, {"staff:rems_form_due": PROTOCOL.total_doses})

    # every record on the workflow topics parses with the CloudEvents SDK and matches its schema
    seen = await assert_conformant(course.stack)
    assert {
        "PreparationCompleted",
        "SessionAdministered",
        "MonitoringCheckDue",
        "IntegrationDue",
        "CourseCompleted",
    } <= set(seen)
