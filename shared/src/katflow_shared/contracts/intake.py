"""Events the intake service emits on the workflow topic (ids and non-identifying facts only)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from .base import CourseEvent, Event
from .common import EligibilityOutcome, Route, TimeZoneName
from .topics import INTAKE


class ConsultationRequested(Event):
    """A prospective patient asked for a consultation; a treatment course was opened."""

    name: ClassVar[str] = "ConsultationRequested"
    topic: ClassVar[str] = INTAKE

    consultation_request_id: UUID = Field(description="The consultation request's id.")
    course_id: UUID = Field(description="The treatment course opened for this request (Kafka key).")
    patient_id: UUID = Field(description="Opaque patient id; contact details travel on the restricted topic.")
    patient_time_zone: TimeZoneName = Field(
        description="Patient's IANA time zone, for booking and reminders."
    )
    preferred_route: Route | None = Field(None, description="Route the patient asked about, if any.")
    requested_at: datetime = Field(description="When intake accepted the request (UTC).")


class PreparationCompleted(CourseEvent):
    """Every preparation requirement of the course's protocol is met; dosing may be booked."""

    name: ClassVar[str] = "PreparationCompleted"
    topic: ClassVar[str] = INTAKE

    route: Route = Field(description="Route the course will use.")
    protocol_version: str = Field(description="Protocol configuration version that applied, e.g. 'iv@1'.")
    patient_time_zone: TimeZoneName = Field(description="Patient's IANA time zone.")
    completed_at: datetime = Field(description="When the last requirement was met (UTC).")


class EligibilityDecided(CourseEvent):
    """A clinician decided whether the course may proceed. Scores and reasons stay in intake."""

    name: ClassVar[str] = "EligibilityDecided"
    topic: ClassVar[str] = INTAKE

    outcome: EligibilityOutcome = Field(description="eligible, not_eligible or clinician_review.")
    route: Route | None = Field(None, description="Route approved, when eligible.")
    decided_at: datetime = Field(description="When the decision was recorded (UTC).")


class UrgentReviewRequired(Event):
    """Automation for the course is halted; a clinician must act now. Never quiet-houred.

    Carries no reason: staff read it in intake (the screening result is clinical content).
    """

    name: ClassVar[str] = "UrgentReviewRequired"
    topic: ClassVar[str] = INTAKE

    alert_id: UUID = Field(description="The alert's id in intake.")
    course_id: UUID = Field(description="The treatment course (Kafka key).")
    patient_id: UUID = Field(description="Opaque patient id.")
    raised_at: datetime = Field(description="When the alert was raised (UTC).")


class ProtocolVersionActivated(Event):
    """An admin made a protocol version the one new courses of its route are pinned to (at their
    first eligible decision). Courses already pinned keep theirs."""

    name: ClassVar[str] = "ProtocolVersionActivated"
    topic: ClassVar[str] = INTAKE
    key_field: ClassVar[str] = "route"

    route: Route = Field(description="The route (Kafka key).")
    protocol_version: str = Field(description="The version now pinned to new courses, e.g. 'iv@2'.")
    previous_version: str = Field(description="The version new courses were pinned to before.")
    activated_at: datetime = Field(description="When (UTC).")
