"""Which notifications each workflow event calls for (pure: event in, intents out).

Facts are the strings templates may use: opaque ids, UTC instants and clinic-zone days (rendered for
the recipient later). They never hold names, contact details or clinical content.

What a rule needs from the treatment protocols comes in as a lookup (``RemsFormDueDays``), wired
in bootstrap: this module reads no files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from katflow_shared.contracts import (
    AppointmentCancelled,
    AppointmentDisplaced,
    AppointmentMissed,
    AppointmentRescheduled,
    AppointmentScheduled,
    AppointmentWaitlisted,
    CadenceStretched,
    ConsultationRequested,
    EligibilityDecided,
    Event,
    IntegrationDue,
    IntegrationOverdue,
    MonitoringCheckDue,
    SessionAdministered,
    UrgentReviewRequired,
)
from katflow_shared.contracts.common import CancellationReason, EligibilityOutcome

RemsFormDueDays = Callable[[str], int | None]
"""Days after a dose that its REMS patient monitoring form is due, by the protocol version the
session names (None: that protocol has no such form)."""


@dataclass(frozen=True)
class Intent:
    notification: str
    audience: str
    course_id: UUID | None
    patient_id: UUID | None = None
    appointment_id: UUID | None = None
    facts: Mapping[str, str] = field(default_factory=dict)
    clinician_id: str | None = None  # staff: the clinician booked for the session it is about


def _iso(t: datetime) -> str:
    return t.isoformat()


def _patient(name: str, e: Any, **facts: str) -> Intent:
    appointment = getattr(e, "appointment_id", None)
    base = {"course_id": str(e.course_id)}
    if appointment is not None:
        base["appointment_id"] = str(appointment)
    return Intent(name, "patient", e.course_id, e.patient_id, appointment, {**base, **facts})


def _staff(name: str, e: Any, **facts: str) -> Intent:
    base = {"course_id": str(e.course_id)}
    if (patient := getattr(e, "patient_id", None)) is not None:
        base["patient_id"] = str(patient)
    patient, clinician = getattr(e, "patient_id", None), getattr(e, "clinician_id", None)
    return Intent(name, "staff", e.course_id, patient, None, {**base, **facts}, clinician)


def _consultation(e: ConsultationRequested, _at: datetime) -> list[Intent]:
    request = str(e.consultation_request_id)
    return [
        _patient("consultation_ack", e, consultation_request_id=request),
        _staff("new_consultation_request", e, consultation_request_id=request),
    ]


def _waitlisted(e: AppointmentWaitlisted, _at: datetime) -> list[Intent]:
    return [_staff("booking_waitlisted", e, kind=e.kind.value, next_attempt_at=_iso(e.next_attempt_at))]


def _eligibility(e: EligibilityDecided, _at: datetime) -> list[Intent]:
    if e.outcome == EligibilityOutcome.CLINICIAN_REVIEW:
        return [_staff("eligibility_review", e, decided_at=_iso(e.decided_at))]
    return [_patient("eligibility_update", e, decided_at=_iso(e.decided_at))]


def _scheduled(e: AppointmentScheduled, at: datetime) -> list[Intent]:
    times = {"starts_at": _iso(e.starts_at), "ends_at": _iso(e.ends_at), "created_at": _iso(at)}
    return [_patient("booking_confirmation", e, kind=e.kind.value, sequence="0", **times)]


def _rescheduled(e: AppointmentRescheduled, at: datetime) -> list[Intent]:
    times = {"starts_at": _iso(e.starts_at), "ends_at": _iso(e.ends_at), "created_at": _iso(at)}
    sequence = str(int(at.timestamp()))  # iCalendar SEQUENCE must grow with every change
    return [_patient("appointment_rescheduled", e, kind=e.kind.value, sequence=sequence, **times)]


def _cancelled(e: AppointmentCancelled, at: datetime) -> list[Intent]:
    if e.reason in (CancellationReason.RESCHEDULED, CancellationReason.COURSE_HALTED):
        return []  # a move is announced by AppointmentRescheduled; a halt is handled by a clinician
    sequence = str(int(at.timestamp()))
    return [_patient("appointment_cancelled", e, kind=e.kind.value, sequence=sequence, created_at=_iso(at))]


def _missed(e: AppointmentMissed, _at: datetime) -> list[Intent]:
    starts = _iso(e.starts_at)
    return [
        _patient("no_show_followup", e, starts_at=starts),
        _staff("appointment_missed", e, appointment_id=str(e.appointment_id), starts_at=starts),
    ]


def _administered(e: SessionAdministered, rems_form_due_days: int | None) -> list[Intent]:
    intents = [_patient("aftercare", e, discharged_at=_iso(e.monitoring_ended_at))]
    if rems_form_due_days is not None:  # REMS: a patient monitoring form after every session
        due = e.administered_at + timedelta(days=rems_form_due_days)
        intents.append(_staff("rems_form_due", e, session_id=str(e.session_id), due_by=_iso(due)))
    return intents


def _monitoring(e: MonitoringCheckDue, _at: datetime) -> list[Intent]:
    facts = {"session_id": str(e.session_id), "check": e.check.value, "due_at": _iso(e.due_at)}
    return [_staff("monitoring_check", e, **facts)]


def _integration_due(e: IntegrationDue, _at: datetime) -> list[Intent]:
    closes = _iso(e.window_closes_at)
    return [
        _patient("integration_due", e, window_closes_at=closes),
        _staff("integration_due", e, session_id=str(e.session_id), window_closes_at=closes),
    ]


def _integration_overdue(e: IntegrationOverdue, _at: datetime) -> list[Intent]:
    closed = _iso(e.window_closed_at)
    return [_staff("integration_overdue", e, session_id=str(e.session_id), window_closed_at=closed)]


def _stretched(e: CadenceStretched, _at: datetime) -> list[Intent]:
    facts = {
        "appointment_id": str(e.appointment_id),
        "dose_number": str(e.dose_number),
        "planned_day": e.planned_day.isoformat() if e.planned_day else "",  # "": the plan had none
        "booked_day": e.booked_day.isoformat(),
        "gap_days": str(e.gap_days),
        "max_days_between": str(e.max_days_between),
        "reason": e.reason.value,
    }
    return [_staff("cadence_stretched", e, **facts)]


def _displaced(e: AppointmentDisplaced, _at: datetime) -> list[Intent]:
    facts = {"appointment_id": str(e.appointment_id), "kind": e.kind.value, "cause": e.cause.value}
    return [_staff("appointment_displaced", e, starts_at=_iso(e.starts_at), **facts)]


def _urgent(e: UrgentReviewRequired, _at: datetime) -> list[Intent]:
    return [_staff("urgent_review", e, alert_id=str(e.alert_id), raised_at=_iso(e.raised_at))]


RULES: Mapping[type[Event], Callable[[Any, datetime], list[Intent]]] = {
    ConsultationRequested: _consultation,
    AppointmentWaitlisted: _waitlisted,
    EligibilityDecided: _eligibility,
    AppointmentScheduled: _scheduled,
    AppointmentRescheduled: _rescheduled,
    AppointmentCancelled: _cancelled,
    AppointmentMissed: _missed,
    CadenceStretched: _stretched,
    AppointmentDisplaced: _displaced,
    MonitoringCheckDue: _monitoring,
    IntegrationDue: _integration_due,
    IntegrationOverdue: _integration_overdue,
    UrgentReviewRequired: _urgent,
}


def intents_for(event: Event, event_time: datetime, rems_form_due_days: RemsFormDueDays) -> list[Intent]:
    """The intents ``event`` calls for. A SessionAdministered's also depend on its protocol (the only
    event whose rule asks ``rems_form_due_days``; what that raises for an unknown version, propagates)."""
    if isinstance(event, SessionAdministered):
        return _administered(event, rems_form_due_days(event.protocol_version))
    rule = RULES.get(type(event))
    return rule(event, event_time) if rule else []


def reminder_intent(payload: Mapping[str, str]) -> Intent:
    """The patient intent a fired reminder timer stands for (payload written by the scheduler)."""
    keys = ("course_id", "appointment_id", "starts_at", "ends_at", "kind")
    facts = {k: payload[k] for k in keys}
    return Intent(
        payload["notification"],
        "patient",
        UUID(payload["course_id"]),
        UUID(payload["patient_id"]),
        UUID(payload["appointment_id"]),
        facts,
    )


def survey_intent(payload: Mapping[str, str]) -> Intent:
    facts = {"course_id": payload["course_id"], "survey_number": payload["survey_number"]}
    return Intent(
        "course_survey", "patient", UUID(payload["course_id"]), UUID(payload["patient_id"]), None, facts
    )
