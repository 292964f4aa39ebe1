"""The events of one patient's course that tests feed notifications: contact details as intake
publishes them, appointments booked and moved as scheduling does, an integration session due."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from katflow_shared.contracts import (
    AppointmentRescheduled,
    AppointmentScheduled,
    CadenceStretched,
    ChannelConsent,
    ConsultationRequested,
    IntegrationDue,
    PatientContactUpdated,
)
from katflow_shared.contracts.common import AppointmentKind, Route, StretchReason


class OfACourse(Protocol):
    """A test's patient and course (an e2e world, an integration harness)."""

    @property
    def course_id(self) -> uuid.UUID: ...

    @property
    def patient_id(self) -> uuid.UUID: ...


def consultation_requested(
    course_id: uuid.UUID | None = None,
    patient_id: uuid.UUID | None = None,
    *,
    zone: str = "America/Chicago",
    route: Route | None = None,
    at: datetime | None = None,
) -> ConsultationRequested:
    """A consultation request as intake emits it: a request id of its own, the course and the patient
    given (new ones otherwise), requested at ``at`` (now)."""
    return ConsultationRequested(
        consultation_request_id=uuid.uuid4(),
        course_id=course_id or uuid.uuid4(),
        patient_id=patient_id or uuid.uuid4(),
        patient_time_zone=zone,
        preferred_route=route,
        requested_at=at or datetime.now(UTC),
    )


def contact_updated(
    patient_id: uuid.UUID,
    at: datetime,
    *,
    time_zone: str,
    email_address: str | None = None,
    phone: str | None = None,
    given_name: str = "Ana",
    email: bool = True,
    sms: bool = True,
    born: date | None = None,
) -> PatientContactUpdated:
    """``PatientContactUpdated`` recorded at ``at``, its consents to email and to SMS (granted or
    refused) captured by the web form at that time."""
    return PatientContactUpdated(
        patient_id=patient_id,
        given_name=given_name,
        family_name="Example",
        email=email_address,
        phone=phone,
        time_zone=time_zone,
        email_consent=ChannelConsent(granted=email, captured_at=at, method="web-form"),
        sms_consent=ChannelConsent(granted=sms, captured_at=at, method="web-form"),
        updated_at=at,
        date_of_birth=born,
    )


def appointment_scheduled(
    of: OfACourse,
    starts_at: datetime,
    kind: AppointmentKind = AppointmentKind.CONSULTATION,
    *,
    zone: str = "America/Chicago",
    hours: int = 1,
    appointment_id: uuid.UUID | None = None,
) -> AppointmentScheduled:
    """An appointment of ``hours`` with clinician clin-1 for the patient's course."""
    return AppointmentScheduled(
        appointment_id=appointment_id or uuid.uuid4(),
        course_id=of.course_id,
        patient_id=of.patient_id,
        kind=kind,
        clinician_id="clin-1",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        patient_time_zone=zone,
    )


def appointment_rescheduled(booked: AppointmentScheduled, starts_at: datetime) -> AppointmentRescheduled:
    """``booked`` moved to ``starts_at``, as long as it was: the same appointment of the same course."""
    same = booked.model_dump(
        include={"appointment_id", "course_id", "patient_id", "kind", "patient_time_zone"}
    )
    return AppointmentRescheduled(
        **same,
        previous_starts_at=booked.starts_at,
        starts_at=starts_at,
        ends_at=starts_at + (booked.ends_at - booked.starts_at),
    )


def cadence_stretched(of: OfACourse, dose_number: int, appointment_id: uuid.UUID) -> CadenceStretched:
    """The dose booked on Monday 14 December 2026, planned for Thursday the 10th: five days after the
    last, one more than the cadence allows, for want of a free day."""
    return CadenceStretched(
        course_id=of.course_id,
        patient_id=of.patient_id,
        appointment_id=appointment_id,
        dose_number=dose_number,
        planned_day=date(2026, 12, 10),
        booked_day=date(2026, 12, 14),
        gap_days=5,
        max_days_between=4,
        reason=StretchReason.NO_FREE_DAY,
    )


def integration_due(of: OfACourse, now: datetime) -> IntegrationDue:
    """The patient's first integration session, its window open from ``now`` for 72 hours."""
    return IntegrationDue(
        course_id=of.course_id,
        patient_id=of.patient_id,
        session_id=uuid.uuid4(),
        dose_number=1,
        window_opens_at=now,
        window_closes_at=now + timedelta(hours=72),
    )
