"""An appointment's life: scheduled → checked in → (in monitoring) → completed, or cancelled/missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from katflow_shared.contracts.base import CourseEventFields
from katflow_shared.contracts.common import AppointmentKind
from katflow_shared.errors import RuleViolation

CHECK_IN_EARLY = timedelta(minutes=60)


class Status(StrEnum):
    SCHEDULED = "scheduled"
    CHECKED_IN = "checked_in"
    IN_MONITORING = "in_monitoring"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    MISSED = "missed"


RESERVING = (Status.SCHEDULED, Status.CHECKED_IN, Status.IN_MONITORING)  # hold clinician and room


class AppointmentEventFields(CourseEventFields):
    """What every event about one appointment says of it: which one, whose, of what kind."""

    appointment_id: UUID
    kind: AppointmentKind


@dataclass(frozen=True)
class Appointment:
    id: UUID
    course_id: UUID
    patient_id: UUID
    patient_time_zone: str
    kind: AppointmentKind
    clinician_id: str
    room_id: str | None
    starts_at: datetime
    ends_at: datetime
    status: Status
    dose_number: int | None
    follows_session_id: UUID | None
    protocol_version: str | None

    def event_fields(self) -> AppointmentEventFields:
        return AppointmentEventFields(
            appointment_id=self.id, course_id=self.course_id, patient_id=self.patient_id, kind=self.kind
        )


def host_role(kind: AppointmentKind) -> str:
    """The clinician role that hosts an appointment of ``kind``: a preparation is an integration
    clinician's."""
    return kind.value if kind is not AppointmentKind.PREPARATION else "integration"


def require(appt: Appointment, *allowed: Status) -> None:
    if appt.status not in allowed:
        wanted = " or ".join(s.value for s in allowed)
        raise RuleViolation(
            ["appointment_id"], "appointment_state", f"appointment is {appt.status.value}, not {wanted}", 409
        )


def check_in_allowed(appt: Appointment, now: datetime) -> None:
    require(appt, Status.SCHEDULED)
    if now < appt.starts_at - CHECK_IN_EARLY:
        raise RuleViolation(["appointment_id"], "check_in_too_early", "check-in opens 60 minutes before", 409)


def complete_allowed(appt: Appointment, now: datetime) -> None:
    if appt.kind is AppointmentKind.DOSING:
        raise RuleViolation(
            ["appointment_id"], "dosing_completes_with_session", "record the session to complete a dose", 409
        )
    require(appt, Status.SCHEDULED, Status.CHECKED_IN)
    if now < appt.starts_at:
        raise RuleViolation(
            ["appointment_id"], "appointment_not_started", "the appointment has not begun", 409
        )


def no_show_allowed(appt: Appointment, now: datetime, grace_minutes: int) -> None:
    require(appt, Status.SCHEDULED)
    if now < appt.starts_at + timedelta(minutes=grace_minutes):
        raise RuleViolation(
            ["appointment_id"], "no_show_grace_period", f"wait {grace_minutes} minutes after the start", 409
        )
