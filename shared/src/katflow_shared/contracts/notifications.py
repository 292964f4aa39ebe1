"""Events the notifications service emits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from .base import Event
from .topics import NOTIFICATIONS


class _DeliveryEvent(Event):
    """What became of one delivery of a message: keyed by its course, or by the delivery when the
    message is about none."""

    delivery_id: UUID = Field(description="The delivery.")
    course_id: UUID | None = Field(None, description="Course the message is about, if any (Kafka key).")

    def key(self) -> str:
        return str(self.course_id or self.delivery_id)


class NotificationSent(_DeliveryEvent):
    """A provider accepted a message (not yet 'delivered')."""

    name: ClassVar[str] = "NotificationSent"
    topic: ClassVar[str] = NOTIFICATIONS

    channel: str = Field(description="email, sms, staff_webhook or feed.")
    template_id: str = Field(description="Template id.")
    template_version: int = Field(description="Template version.")
    sent_at: datetime = Field(description="When the provider accepted it (UTC).")


class NotificationFailed(_DeliveryEvent):
    """A message reached nobody: for a patient, no consented channel delivered it (the care
    coordinator then has a task); for staff, its channel failed. Not emitted for a failure that a
    fallback channel recovered."""

    name: ClassVar[str] = "NotificationFailed"
    topic: ClassVar[str] = NOTIFICATIONS

    channel: str = Field(description="Channel that failed last.")
    template_id: str = Field(description="Template id.")
    error_code: str = Field(description="Provider or policy error code (no message content).")
    failed_at: datetime = Field(description="When (UTC).")


class ChangeRequest(StrEnum):
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"


class AppointmentChangeRequested(Event):
    """The patient asked, on their page, to move or cancel an appointment. A request, not a change:
    staff act on it in the console (scheduling's API), and the appointment's own events follow."""

    name: ClassVar[str] = "AppointmentChangeRequested"
    topic: ClassVar[str] = NOTIFICATIONS
    key_field: ClassVar[str] = "course_id"

    appointment_id: UUID = Field(description="The patient's appointment.")
    course_id: UUID = Field(description="The treatment course (Kafka key).")
    patient_id: UUID = Field(description="Opaque patient id.")
    change: ChangeRequest = Field(description="reschedule or cancel.")
    requested_at: datetime = Field(description="When the patient asked (UTC).")


class ReadinessConfirmed(Event):
    """On the morning of a visit the patient confirmed, on their page, that a ride home is arranged
    and that they followed the protocol's eating and drinking instructions; staff see it at check-in."""

    name: ClassVar[str] = "ReadinessConfirmed"
    topic: ClassVar[str] = NOTIFICATIONS
    key_field: ClassVar[str] = "course_id"

    appointment_id: UUID = Field(description="The visit.")
    course_id: UUID = Field(description="The treatment course (Kafka key).")
    patient_id: UUID = Field(description="Opaque patient id.")
    ride_home: bool = Field(description="A ride home is arranged.")
    fasting: bool = Field(description="The eating and drinking instructions were followed.")
    confirmed_at: datetime = Field(description="When the patient confirmed (UTC).")
