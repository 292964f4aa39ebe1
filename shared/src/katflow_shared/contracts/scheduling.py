"""Events the scheduling service emits on the workflow topic."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from .base import CourseEvent, Event
from .common import (
    AppointmentKind,
    CancellationReason,
    ClinicChange,
    MonitoringCheck,
    Route,
    StretchReason,
    TimeZoneName,
)
from .topics import SCHEDULING


class AppointmentScheduled(Event):
    """An appointment was booked for a course."""

    name: ClassVar[str] = "AppointmentScheduled"
    topic: ClassVar[str] = SCHEDULING

    appointment_id: UUID = Field(description="The appointment's id.")
    course_id: UUID = Field(description="The treatment course (Kafka key).")
    patient_id: UUID = Field(description="Opaque patient id.")
    kind: AppointmentKind = Field(description="consultation, preparation, dosing or integration.")
    clinician_id: str = Field(description="Clinician reserved for the appointment.")
    room_id: str | None = Field(None, description="Room reserved, if any.")
    starts_at: datetime = Field(description="Start (UTC).")
    ends_at: datetime = Field(description="End of the reserved window (UTC), monitoring included.")
    patient_time_zone: TimeZoneName = Field(description="Zone to render times in for the patient.")


class AppointmentWaitlisted(CourseEvent):
    """No slot was free inside the clinic's booking horizon for a consultation or a dose scheduling
    books on its own. The booking is kept, not dropped: scheduling tries again at ``next_attempt_at``
    and then every ``waitlist_retry_minutes`` (clinic file), and books the first slot that opens
    (AppointmentScheduled follows). Emitted once per wait; staff are told, so they can add capacity
    or book by hand."""

    name: ClassVar[str] = "AppointmentWaitlisted"
    topic: ClassVar[str] = SCHEDULING

    kind: AppointmentKind = Field(description="consultation or dosing.")
    dose_number: int | None = Field(None, ge=1, description="The dose waiting for a slot (dosing only).")
    waitlisted_at: datetime = Field(description="When no slot was found (UTC).")
    next_attempt_at: datetime = Field(description="When scheduling looks for a slot again (UTC).")


class CadenceStretched(CourseEvent):
    """A dose was booked later than its protocol's cadence allows (more than ``max_days_between``
    calendar days, in the clinic's zone, after the previous dose). Scheduling plans each dosing phase
    so that every gap fits; this is emitted when no day inside the window could be booked, so the
    care team can decide (move another booking, add capacity, or accept the gap)."""

    name: ClassVar[str] = "CadenceStretched"
    topic: ClassVar[str] = SCHEDULING

    appointment_id: UUID = Field(description="The dosing appointment that was booked.")
    dose_number: int = Field(ge=1, description="The dose booked late (never the first, which has no gap).")
    planned_day: date | None = Field(
        description="The day the series plan had for this dose (clinic's zone), if it had one."
    )
    booked_day: date = Field(description="The day it was booked on (clinic's zone).")
    gap_days: int = Field(ge=1, description="Calendar days since the previous dose.")
    max_days_between: int = Field(ge=1, description="The protocol phase's most days between doses.")
    reason: StretchReason = Field(
        description="no_free_day (closed, full or nobody qualified free inside the window), "
        "booked_after_window (the booking came after the window: integration held late, a missed or "
        "cancelled dose), requested_by_staff (staff chose the time)."
    )


class SessionAdministered(Event):
    """A dose was given and the monitoring window closed. Dose amounts and vitals stay in scheduling."""

    name: ClassVar[str] = "SessionAdministered"
    topic: ClassVar[str] = SCHEDULING

    session_id: UUID = Field(description="The session record's id.")
    appointment_id: UUID = Field(description="The dosing appointment.")
    course_id: UUID = Field(description="The treatment course (Kafka key).")
    patient_id: UUID = Field(description="Opaque patient id.")
    route: Route = Field(description="Route used.")
    dose_number: int = Field(ge=1, description="1 for the first dose of the course, and so on.")
    protocol_version: str = Field(description="Protocol configuration version that applied.")
    administered_at: datetime = Field(description="When the dose was given (UTC).")
    monitoring_ended_at: datetime = Field(description="When monitoring ended / discharge (UTC).")
    adverse_events: bool = Field(
        description="Whether any adverse event was recorded (details stay in scheduling)."
    )
    clinician_id: str | None = Field(
        None, description="Staff id of the clinician booked for the session (its alerts go to them too)."
    )


class IntegrationDue(CourseEvent):
    """The integration window after a dose opened: an integration session should be held."""

    name: ClassVar[str] = "IntegrationDue"
    topic: ClassVar[str] = SCHEDULING

    session_id: UUID = Field(description="The dosing session this integration follows.")
    dose_number: int = Field(ge=1, description="Dose number the integration follows.")
    window_opens_at: datetime = Field(description="Start of the integration window (UTC).")
    window_closes_at: datetime = Field(description="End of the window; IntegrationOverdue after it (UTC).")


class _AppointmentEvent(Event):
    """Something happened to one booked appointment of a course."""

    appointment_id: UUID = Field(description="The appointment.")
    course_id: UUID = Field(description="The treatment course (Kafka key).")
    patient_id: UUID = Field(description="Opaque patient id.")
    kind: AppointmentKind = Field(description="Appointment kind.")


class AppointmentRescheduled(_AppointmentEvent):
    """An appointment moved; reminders and timers for the old time no longer apply."""

    name: ClassVar[str] = "AppointmentRescheduled"
    topic: ClassVar[str] = SCHEDULING

    previous_starts_at: datetime = Field(description="Old start (UTC).")
    starts_at: datetime = Field(description="New start (UTC).")
    ends_at: datetime = Field(description="New end of the reserved window (UTC).")
    patient_time_zone: TimeZoneName = Field(description="Zone to render times in for the patient.")


class AppointmentCancelled(_AppointmentEvent):
    """An appointment was cancelled; its reminders and timers are cancelled too."""

    name: ClassVar[str] = "AppointmentCancelled"
    topic: ClassVar[str] = SCHEDULING

    reason: CancellationReason = Field(description="Why (a code, never free text).")
    cancelled_at: datetime = Field(description="When (UTC).")


class AppointmentCompleted(_AppointmentEvent):
    """The patient attended the appointment."""

    name: ClassVar[str] = "AppointmentCompleted"
    topic: ClassVar[str] = SCHEDULING

    completed_at: datetime = Field(description="When (UTC).")


class AppointmentMissed(_AppointmentEvent):
    """The patient did not attend within the protocol's grace period (no-show)."""

    name: ClassVar[str] = "AppointmentMissed"
    topic: ClassVar[str] = SCHEDULING

    starts_at: datetime = Field(description="Start the patient missed (UTC).")
    marked_at: datetime = Field(description="When it was marked missed (UTC).")


class MonitoringCheckDue(Event):
    """A post-dose monitoring check is due (e.g. blood pressure at +40 min, discharge at +120 min)."""

    name: ClassVar[str] = "MonitoringCheckDue"
    topic: ClassVar[str] = SCHEDULING

    session_id: UUID = Field(description="The dosing session.")
    course_id: UUID = Field(description="The treatment course (Kafka key).")
    check: MonitoringCheck = Field(description="Which check.")
    due_at: datetime = Field(description="When the check is due (UTC).")
    clinician_id: str | None = Field(
        None, description="Staff id of the clinician booked for the session (the alert goes to them too)."
    )


class IntegrationOverdue(CourseEvent):
    """No integration session was held by the end of the window: therapist and coordinator escalate."""

    name: ClassVar[str] = "IntegrationOverdue"
    topic: ClassVar[str] = SCHEDULING

    session_id: UUID = Field(description="The dosing session the integration follows.")
    dose_number: int = Field(ge=1, description="Dose number.")
    window_closed_at: datetime = Field(description="End of the missed window (UTC).")


class CourseCompleted(CourseEvent):
    """The last dose's integration was held: the course is complete."""

    name: ClassVar[str] = "CourseCompleted"
    topic: ClassVar[str] = SCHEDULING

    doses: int = Field(ge=1, description="Doses administered in the course.")
    completed_at: datetime = Field(description="When (UTC).")


class AppointmentDisplaced(Event):
    """A clinic change (a closure, a clinician's time off, opening hours, a clinician's roles or
    hours, a room's capabilities) leaves a booked appointment invalid and no other time could be
    found for it under the reschedule rules. It still stands at its time: staff must move or cancel
    it (the patient has not been told anything yet). v2: ``cause`` may be room_changed."""

    name: ClassVar[str] = "AppointmentDisplaced"
    version: ClassVar[int] = 2
    topic: ClassVar[str] = SCHEDULING

    appointment_id: UUID = Field(description="The appointment left in place.")
    course_id: UUID = Field(description="The treatment course (Kafka key).")
    patient_id: UUID = Field(description="Opaque patient id.")
    kind: AppointmentKind = Field(description="Appointment kind.")
    starts_at: datetime = Field(description="Its start (UTC).")
    cause: ClinicChange = Field(
        description="closure, time_off, opening_hours, clinician_changed or room_changed."
    )
    displaced_at: datetime = Field(description="When the change was made (UTC).")


class _ClinicEvent(Event):
    """A change an admin made to the clinic: effective at once for every booking after it."""

    key_field: ClassVar[str] = "clinic_id"

    clinic_id: str = Field(description="The clinic (Kafka key); 'main' unless several share a deployment.")
    changed_at: datetime = Field(description="When (UTC).")


class ClinicianUpdated(_ClinicEvent):
    """A clinician was added or changed (roles, qualifications, weekly hours); the details are in
    scheduling's admin API."""

    name: ClassVar[str] = "ClinicianUpdated"
    topic: ClassVar[str] = SCHEDULING

    clinician_id: str = Field(description="The clinician.")
    created: bool = Field(description="True when the clinician is new.")


class RoomUpdated(_ClinicEvent):
    """A room was added or changed (capabilities such as iv_pump or recliner). Dosing appointments
    booked in it whose protocol needs a capability it no longer has go to another room with it at the
    same time, move (AppointmentRescheduled), or are reported (AppointmentDisplaced)."""

    name: ClassVar[str] = "RoomUpdated"
    topic: ClassVar[str] = SCHEDULING

    room_id: str = Field(description="The room.")
    created: bool = Field(description="True when the room is new.")
    moved: int = Field(0, ge=0, description="Appointments given another room or moved.")
    displaced: int = Field(
        0, ge=0, description="Appointments that could not be moved (AppointmentDisplaced)."
    )


class OpeningHoursChanged(_ClinicEvent):
    """The clinic's weekly opening hours were set."""

    name: ClassVar[str] = "OpeningHoursChanged"
    topic: ClassVar[str] = SCHEDULING


class ClosureAdded(_ClinicEvent):
    """The clinic is closed on a day (a holiday, a closure): nothing is booked on it; what was booked
    is moved (AppointmentRescheduled) or, when it cannot be, reported (AppointmentDisplaced)."""

    name: ClassVar[str] = "ClosureAdded"
    topic: ClassVar[str] = SCHEDULING

    day: date = Field(description="The closed day (clinic's zone).")
    moved: int = Field(ge=0, description="Appointments moved off the day.")
    displaced: int = Field(ge=0, description="Appointments that could not be moved (AppointmentDisplaced).")


class ClosureRemoved(_ClinicEvent):
    """A closed day is open again."""

    name: ClassVar[str] = "ClosureRemoved"
    topic: ClassVar[str] = SCHEDULING

    day: date = Field(description="The day (clinic's zone).")


class TimeOffAdded(_ClinicEvent):
    """A clinician is away for whole days: they are not booked then; their appointments on those days
    go to another qualified clinician, move (AppointmentRescheduled), or are reported
    (AppointmentDisplaced)."""

    name: ClassVar[str] = "TimeOffAdded"
    topic: ClassVar[str] = SCHEDULING

    time_off_id: UUID = Field(description="The time off.")
    clinician_id: str = Field(description="The clinician.")
    first_day: date = Field(description="First day away (clinic's zone).")
    last_day: date = Field(description="Last day away (clinic's zone).")
    moved: int = Field(ge=0, description="Appointments moved or given to another clinician.")
    displaced: int = Field(ge=0, description="Appointments that could not be moved (AppointmentDisplaced).")


class TimeOffRemoved(_ClinicEvent):
    """A clinician's time off was withdrawn."""

    name: ClassVar[str] = "TimeOffRemoved"
    topic: ClassVar[str] = SCHEDULING

    time_off_id: UUID = Field(description="The time off.")
    clinician_id: str = Field(description="The clinician.")
