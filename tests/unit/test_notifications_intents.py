"""Which notifications each workflow event calls for; channels and fallbacks from the catalogue."""

from __future__ import annotations

import json
import shutil
import uuid
from collections import deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from katflow_notifications.adapters.memory_channel import MemoryChannel
from katflow_notifications.bootstrap import rems_form_due_days
from katflow_notifications.domain.catalogue import lookup, next_channel
from katflow_notifications.domain.intents import Intent, RemsFormDueDays, intents_for
from katflow_notifications.domain.templates import Rendered
from katflow_notifications.ports import ChannelPermanent, ChannelTransient, Outbound
from katflow_shared.contracts import (
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentWaitlisted,
    CadenceStretched,
    ConsultationRequested,
    EligibilityDecided,
    IntegrationDue,
    IntegrationOverdue,
    MonitoringCheckDue,
    PreparationCompleted,
    SessionAdministered,
    UrgentReviewRequired,
)
from katflow_shared.contracts.common import (
    AppointmentKind,
    CancellationReason,
    EligibilityOutcome,
    MonitoringCheck,
    Route,
    StretchReason,
)
from katflow_shared.messaging.errors import PermanentError, classify
from katflow_shared.treatment_protocols import default_directory, load_protocols

T = datetime(2024, 6, 3, 15, tzinfo=UTC)
IDS = {k: uuid.uuid4() for k in ("course_id", "patient_id", "appointment_id", "session_id")}
SHIPPED = rems_form_due_days(load_protocols())  # as bootstrap wires it


def intents(event: object, rems: RemsFormDueDays = SHIPPED) -> list[Intent]:
    return intents_for(event, T, rems)  # type: ignore[arg-type]


def names(event: object) -> list[tuple[str, str]]:
    return [(i.notification, i.audience) for i in intents(event)]


def test_consultation_request_acknowledges_and_alerts_intake() -> None:
    e = ConsultationRequested(
        consultation_request_id=uuid.uuid4(),
        course_id=IDS["course_id"],
        patient_id=IDS["patient_id"],
        patient_time_zone="America/Chicago",
        requested_at=T,
    )
    assert names(e) == [("consultation_ack", "patient"), ("new_consultation_request", "staff")]
    assert "patient_time_zone" not in intents(e)[0].facts


def test_a_waitlisted_booking_tells_staff_not_the_patient() -> None:
    retry = T + timedelta(hours=1)
    e = AppointmentWaitlisted(
        course_id=IDS["course_id"],
        patient_id=IDS["patient_id"],
        kind=AppointmentKind.CONSULTATION,
        waitlisted_at=T,
        next_attempt_at=retry,
    )
    [intent] = intents(e)
    assert (intent.notification, intent.audience) == ("booking_waitlisted", "staff")
    assert (intent.facts["kind"], intent.facts["next_attempt_at"]) == ("consultation", retry.isoformat())


def test_eligibility_is_neutral_for_patients_and_review_goes_to_clinicians() -> None:
    base = {"course_id": IDS["course_id"], "patient_id": IDS["patient_id"], "decided_at": T}
    for outcome in (EligibilityOutcome.ELIGIBLE, EligibilityOutcome.NOT_ELIGIBLE):
        found = intents(EligibilityDecided(outcome=outcome, **base))
        assert [(i.notification, i.facts.get("outcome")) for i in found] == [("eligibility_update", None)]
    review = EligibilityDecided(outcome=EligibilityOutcome.CLINICIAN_REVIEW, **base)
    assert names(review) == [("eligibility_review", "staff")]


def test_cancellations_by_reschedule_or_halt_do_not_message_the_patient() -> None:
    def cancelled(reason: CancellationReason) -> AppointmentCancelled:
        return AppointmentCancelled(
            appointment_id=IDS["appointment_id"],
            course_id=IDS["course_id"],
            patient_id=IDS["patient_id"],
            kind="dosing",
            reason=reason,
            cancelled_at=T,
        )

    assert names(cancelled(CancellationReason.PATIENT_REQUEST)) == [("appointment_cancelled", "patient")]
    assert names(cancelled(CancellationReason.RESCHEDULED)) == []
    assert names(cancelled(CancellationReason.COURSE_HALTED)) == []


def session(route: Route, protocol_version: str) -> SessionAdministered:
    return SessionAdministered(
        session_id=IDS["session_id"],
        appointment_id=IDS["appointment_id"],
        course_id=IDS["course_id"],
        patient_id=IDS["patient_id"],
        route=route,
        dose_number=1,
        protocol_version=protocol_version,
        administered_at=T,
        monitoring_ended_at=T + timedelta(hours=2),
        adverse_events=False,
    )


def test_session_brings_aftercare_and_the_rems_form_when_its_protocol_has_one() -> None:
    assert names(session(Route.IV, "iv@1")) == [("aftercare", "patient")]
    found = intents(session(Route.INTRANASAL, "intranasal@1"))
    assert [i.notification for i in found] == ["aftercare", "rems_form_due"]
    assert found[1].facts["due_by"] == (T + timedelta(days=7)).isoformat()  # the shipped file's 7


def test_the_rems_form_is_due_when_the_sessions_protocol_says(tmp_path: Path) -> None:
    """A protocol file with ``rems_form_due_days: 3``, loaded as the service loads its files."""
    folder = shutil.copytree(default_directory(), tmp_path / "protocols")
    nasal = json.loads((folder / "intranasal@1.json").read_text())
    nasal["version"], nasal["dosing"]["rems_form_due_days"] = 2, 3
    (folder / "intranasal@2.json").write_text(json.dumps(nasal))
    rems = rems_form_due_days(load_protocols(folder))
    administered = session(Route.INTRANASAL, "intranasal@2")
    [_, form] = intents(administered, rems)
    assert (form.notification, form.audience) == ("rems_form_due", "staff")
    assert form.facts["due_by"] == (administered.administered_at + timedelta(days=3)).isoformat()
    assert form.facts["session_id"] == str(IDS["session_id"])
    [_, pinned] = intents(session(Route.INTRANASAL, "intranasal@1"), rems)  # a course keeps its version
    assert pinned.facts["due_by"] == (T + timedelta(days=7)).isoformat()


def test_a_session_under_a_protocol_not_on_file_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match="'intranasal@9' is not on file") as raised:
        intents(session(Route.INTRANASAL, "intranasal@9"))
    assert classify(raised.value) == "permanent"  # the consumer dead-letters it, it does not retry


@pytest.mark.parametrize("planned", [date(2026, 12, 10), None])
def test_a_stretched_cadence_tells_the_care_team_with_the_facts(planned: date | None) -> None:
    stretched = CadenceStretched(
        course_id=IDS["course_id"],
        patient_id=IDS["patient_id"],
        appointment_id=IDS["appointment_id"],
        dose_number=3,
        planned_day=planned,
        booked_day=date(2026, 12, 14),
        gap_days=5,
        max_days_between=4,
        reason=StretchReason.NO_FREE_DAY,
    )
    [intent] = intents(stretched)
    assert (intent.notification, intent.audience) == ("cadence_stretched", "staff")
    assert (intent.course_id, intent.patient_id) == (IDS["course_id"], IDS["patient_id"])
    assert dict(intent.facts) == {
        "course_id": str(IDS["course_id"]),
        "patient_id": str(IDS["patient_id"]),
        "appointment_id": str(IDS["appointment_id"]),
        "dose_number": "3",
        "planned_day": planned.isoformat() if planned else "",
        "booked_day": "2026-12-14",
        "gap_days": "5",
        "max_days_between": "4",
        "reason": "no_free_day",
    }


def test_staff_alerts_and_integration() -> None:
    ids = {"course_id": IDS["course_id"], "patient_id": IDS["patient_id"]}
    assert names(UrgentReviewRequired(alert_id=uuid.uuid4(), raised_at=T, **ids)) == [
        ("urgent_review", "staff")
    ]
    check = MonitoringCheckDue(
        session_id=IDS["session_id"],
        course_id=IDS["course_id"],
        check=MonitoringCheck.BLOOD_PRESSURE,
        due_at=T,
    )
    assert names(check) == [("monitoring_check", "staff")]
    due = IntegrationDue(
        session_id=IDS["session_id"], dose_number=1, window_opens_at=T, window_closes_at=T, **ids
    )
    assert names(due) == [("integration_due", "patient"), ("integration_due", "staff")]
    overdue = IntegrationOverdue(session_id=IDS["session_id"], dose_number=1, window_closed_at=T, **ids)
    assert names(overdue) == [("integration_overdue", "staff")]
    missed = AppointmentMissed(
        appointment_id=IDS["appointment_id"], kind="dosing", starts_at=T, marked_at=T, **ids
    )
    assert names(missed) == [("no_show_followup", "patient"), ("appointment_missed", "staff")]
    prep = PreparationCompleted(
        route=Route.IV, protocol_version="iv@1", patient_time_zone="UTC", completed_at=T, **ids
    )
    assert names(prep) == []


def test_fallback_chains() -> None:
    reminder = lookup("appointment_reminder_24h", "patient")
    assert reminder.chain == ("sms", "email") and reminder.automated
    assert next_channel(reminder, "sms") == "email"
    assert next_channel(reminder, "email") is None
    assert next_channel(lookup("sms_opt_out_confirmation", "patient"), "sms") is None


async def test_memory_channel_plays_its_script_and_is_idempotent() -> None:
    channel = MemoryChannel(script=deque(["transient", "permanent"]))
    out = Outbound(uuid.uuid4(), "+15550001111", Rendered("", "hi"))
    for expected in (ChannelTransient, ChannelPermanent):
        try:
            await channel.send(out)
        except expected:
            pass
        else:
            raise AssertionError(f"expected {expected.__name__}")
    first = await channel.send(out)
    assert await channel.send(out) == first and len(channel.accepted) == 1 and channel.attempts == 4
