"""Events the notifications service emits."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from .base import Event
from .topics import NOTIFICATIONS


class NotificationSent(Event):
    """A provider accepted a message (not yet 'delivered')."""

    name: ClassVar[str] = "NotificationSent"
    topic: ClassVar[str] = NOTIFICATIONS
    key_field: ClassVar[str] = "course_id"

    delivery_id: UUID = Field(description="The delivery.")
    course_id: UUID | None = Field(None, description="Course the message is about, if any (Kafka key).")
    channel: str = Field(description="email, sms, staff_webhook or feed.")
    template_id: str = Field(description="Template id.")
    template_version: int = Field(description="Template version.")
    sent_at: datetime = Field(description="When the provider accepted it (UTC).")

    def key(self) -> str:
        return str(self.course_id or self.delivery_id)


class NotificationFailed(Event):
    """A message reached nobody: for a patient, no consented channel delivered it (the care
    coordinator then has a task); for staff, its channel failed. Not emitted for a failure that a
    fallback channel recovered."""

    name: ClassVar[str] = "NotificationFailed"
    topic: ClassVar[str] = NOTIFICATIONS
    key_field: ClassVar[str] = "course_id"

    delivery_id: UUID = Field(description="The delivery.")
    course_id: UUID | None = Field(None, description="Course the message is about, if any (Kafka key).")
    channel: str = Field(description="Channel that failed last.")
    template_id: str = Field(description="Template id.")
    error_code: str = Field(description="Provider or policy error code (no message content).")
    failed_at: datetime = Field(description="When (UTC).")

    def key(self) -> str:
        return str(self.course_id or self.delivery_id)
