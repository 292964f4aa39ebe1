"""The staff API's request and response bodies: a visit, a change, a manual booking, a course's
progress and the waitlist.

No body names who acts: that is the caller (``katflow_shared.auth.Actor``), and a body that tries
(``administered_by``, ``cancelled_by``, ...) is refused as an extra field (422). The clinical records
they carry, and their checks, are the domain's (``domain.visits``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from katflow_shared.bodies import Body
from katflow_shared.contracts.common import CancellationReason

from ..domain.visits import Discharge, Dose, DosingCheckIn


class CheckInIn(Body):
    dosing: DosingCheckIn | None = Field(None, description="Required for dosing appointments.")


class AdministrationIn(Dose):
    pass


class SessionIn(Discharge):
    """Discharge: closes monitoring and records the session (no therapy notes: codes and numbers)."""


class CancelIn(Body):
    reason: Literal[CancellationReason.PATIENT_REQUEST, CancellationReason.CLINIC_REQUEST]


class RescheduleIn(Body):
    starts_at: datetime = Field(description="New start (ISO 8601 with offset).")


class NoActionBody(Body):
    """An action with nothing to say but who does it (the caller): no fields; the body may be left out."""


class BookIn(Body):
    starts_at: datetime | None = Field(None, description="Wanted start; default the first free slot.")


class StatusOut(BaseModel):
    appointment_id: UUID
    status: str


class AdministrationOut(BaseModel):
    session_id: UUID
    monitoring_until: datetime


class WindowOut(BaseModel):
    opens_at: datetime
    closes_at: datetime
    due_at: datetime


class SessionOut(BaseModel):
    session_id: UUID
    integration_window: WindowOut


class RescheduledOut(BaseModel):
    appointment_id: UUID
    starts_at: datetime
    ends_at: datetime
    clinician_id: str


class BookedOut(BaseModel):
    starts_at: datetime
    ends_at: datetime
    clinician_id: str
    room_id: str | None
    dose_number: int


class SessionRecordOut(BaseModel):
    id: UUID
    appointment_id: UUID
    dose_number: int
    route: str
    protocol_version: str
    administered_at: datetime
    monitoring_ended_at: datetime | None
    adverse_events: bool
    integration_opens_at: datetime | None
    integration_closes_at: datetime | None
    integration_held_at: datetime | None
    integration_overdue_at: datetime | None
    administered_by: str = Field(description="Staff id of the caller who recorded the administration.")
    discharged_by: str | None = Field(description="Staff id of the caller who discharged the patient.")


class DoseOut(BaseModel):
    dose_number: int
    phase: str | None = Field(description="The cadence phase the dose was planned in.")
    planned_day: date | None = Field(description="The series plan's day (clinic's zone).")
    booked_day: date | None = Field(description="The day of its latest dosing appointment, if any.")
    appointment_id: UUID | None
    appointment_status: str | None


class CourseOut(BaseModel):
    course_id: UUID
    status: str
    route: str | None
    protocol_version: str | None
    doses_given: int
    total_doses: int | None
    integration_outstanding: bool
    sessions: list[SessionRecordOut]
    doses: list[DoseOut] = Field(description="Planned against booked, dose by dose.")


class WaitingOut(BaseModel):
    course_id: UUID
    kind: str
    waiting_since: datetime
    looks: int
    next_look_at: datetime
