"""The base of every event contract: frozen, strict, documented, versioned."""

from __future__ import annotations

from typing import ClassVar, TypedDict
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    """A fact that happened. Subclasses are past-tense and carry ids, never names or clinical notes.

    ``event_type`` is the CloudEvents ``type``; ``topic`` is the logical topic (before any prefix);
    ``key_field`` names the field used as the Kafka key (per-course ordering by default).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    version: ClassVar[int] = 1
    topic: ClassVar[str]
    key_field: ClassVar[str] = "course_id"
    restricted: ClassVar[bool] = False

    @classmethod
    def event_type(cls) -> str:
        return f"io.katflow.{cls.name}.v{cls.version}"

    def key(self) -> str:
        return str(getattr(self, self.key_field))


class CourseEvent(Event):
    """A fact about one patient's treatment course; these two fields come first in its schema."""

    course_id: UUID = Field(description="The treatment course (Kafka key).")
    patient_id: UUID = Field(description="Opaque patient id.")


class CourseEventFields(TypedDict):
    """A ``CourseEvent``'s own fields, as a course's owner fills them in: ``**course.event_fields()``."""

    course_id: UUID
    patient_id: UUID
