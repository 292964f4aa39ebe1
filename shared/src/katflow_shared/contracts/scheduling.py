"""Events the scheduling service emits on the workflow topic."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from .base import Event
from .common import AppointmentKind, Route, TimeZoneName
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


class IntegrationDue(Event):
    """The integration window after a dose opened: an integration session should be held."""

    name: ClassVar[str] = "IntegrationDue"
    topic: ClassVar[str] = SCHEDULING

    course_id: UUID = Field(description="The treatment course (Kafka key).")
    patient_id: UUID = Field(description="Opaque patient id.")
    session_id: UUID = Field(description="The dosing session this integration follows.")
    dose_number: int = Field(ge=1, description="Dose number the integration follows.")
    window_opens_at: datetime = Field(description="Start of the integration window (UTC).")
    window_closes_at: datetime = Field(description="End of the window; IntegrationOverdue after it (UTC).")
