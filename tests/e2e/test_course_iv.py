"""A six-dose IV course, from the web form to CourseCompleted, each phase triggering the next.

Real Kafka and PostgreSQL, the three services as processes; the services' clock is moved forward by
an offset file, so two weeks of treatment run in about a minute without sleeping.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts import topics
from katflow_shared.treatment_protocols import load_protocols
from tests.support.conformance import assert_conformant
from tests.support.course import CourseDriver, dose_steps, names

PROTOCOL = load_protocols().get("iv@1")
CHECKS = [(c.check.value, c.offset_minutes) for c in PROTOCOL.dosing.checks]
CLINIC_ZONE = ZoneInfo(load_clinic(DEFAULT_CLINIC).time_zone)


@pytest.mark.parametrize("start", ["mon", "tue", "thu", "fri"])
async def test_six_dose_iv_course_runs_to_completion(course: CourseDriver, start: str) -> None:
    course.start_on(start, CLINIC_ZONE.key)
    await course.request("iv")
    await course.attend_consultation()
    await course.screen_and_decide("iv")
    answers = await course.prepare(
        PROTOCOL.preparation.consent_document, PROTOCOL.preparation.sessions_required, rems=False
    )
    assert [a["prepared"] for a in answers] == [False] * (len(answers) - 1) + [True]
    await course.wait("PreparationCompleted")
    for number in range(1, PROTOCOL.total_doses + 1):
        await course.dose(number, CHECKS)
    await course.wait("CourseCompleted")

    cid = course.course_id
    assert names(course.tap.of(cid, topics.INTAKE)) == [
        "ConsultationRequested",
        "EligibilityDecided",
        "PreparationCompleted",
    ]
    expected = ["AppointmentScheduled:consultation", "AppointmentCompleted:consultation"]
    expected += dose_steps(PROTOCOL) * PROTOCOL.total_doses + ["CourseCompleted"]
    assert names(course.tap.of(cid, topics.SCHEDULING)) == expected
    prepared = course.tap.of(cid, topics.INTAKE)[-1].data
    assert prepared["protocol_version"] == "iv@1" and prepared["route"] == "iv"
    sessions = [e.data for e in course.tap.of(cid) if e.type == "SessionAdministered"]
    assert [s["dose_number"] for s in sessions] == list(range(1, 7))
    assert {s["protocol_version"] for s in sessions} == {"iv@1"}
    assert course.tap.of(cid)[-1].data["doses"] == 6

    # the series plan kept the cadence on open days, and every dose was given on its planned day
    days = [datetime.fromisoformat(s["administered_at"]).astimezone(CLINIC_ZONE).date() for s in sessions]
    phase = PROTOCOL.cadence[0]
    gaps = [(b - a).days for a, b in zip(days, days[1:], strict=False)]
    assert all(phase.min_days_between <= g <= phase.max_days_between for g in gaps), gaps
    assert {d.weekday() for d in days} <= {0, 1, 2, 3, 4}, days
    assert [d["planned_day"] for d in await course.plan()] == [d.isoformat() for d in days]
    assert not [e for e in course.tap.of(cid) if e.type == "CadenceStretched"]

    # notifications reacted to each step (channels, wording and extra messages are notifications' own)
    await course.assert_notified_each_step(cid, PROTOCOL)

    # every record on the workflow topics parses with the CloudEvents SDK and matches its schema
    seen = await assert_conformant(course.stack)
    assert {
        "ConsultationRequested",
        "EligibilityDecided",
        "PreparationCompleted",
        "AppointmentScheduled",
        "AppointmentCompleted",
        "SessionAdministered",
        "MonitoringCheckDue",
        "IntegrationDue",
        "CourseCompleted",
        "PatientContactUpdated",
        "NotificationSent",
    } <= set(seen)
