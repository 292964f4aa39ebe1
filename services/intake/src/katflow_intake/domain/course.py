"""A course as intake sees it, and the guards every staff action passes first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from katflow_shared.contracts.base import CourseEventFields
from katflow_shared.contracts.common import Route
from katflow_shared.errors import RuleViolation


class Phase(StrEnum):
    CONSULTATION = "consultation"
    SCREENED = "screened"
    CLINICIAN_REVIEW = "clinician_review"
    NOT_ELIGIBLE = "not_eligible"
    PREPARATION = "preparation"
    PREPARED = "prepared"
    ENDED = "ended"


@dataclass(frozen=True)
class Course:
    id: UUID
    patient_id: UUID
    time_zone: str
    phase: Phase
    route: Route | None
    protocol_version: str | None
    halted_at: datetime | None
    prepared_at: datetime | None

    def event_fields(self) -> CourseEventFields:
        return CourseEventFields(course_id=self.id, patient_id=self.patient_id)


def require_not_halted(course: Course) -> None:
    if course.halted_at is not None:
        raise RuleViolation(
            ["course_id"], "course_halted", "automation is halted pending urgent clinician review", 409
        )
    if course.phase is Phase.ENDED:
        raise RuleViolation(["course_id"], "course_ended", "the course has ended", 409)


def require_preparation(course: Course) -> str:
    """The protocol id a preparation step is checked against; refused before an eligible decision."""
    require_not_halted(course)
    if course.phase not in (Phase.PREPARATION, Phase.PREPARED) or course.protocol_version is None:
        raise RuleViolation(
            ["course_id"], "eligibility_required", "the course has no eligible decision yet", 409
        )
    return course.protocol_version


def phase_after_decision(outcome: str, prepared: bool) -> Phase:
    if outcome == "eligible":
        return Phase.PREPARED if prepared else Phase.PREPARATION
    return Phase.NOT_ELIGIBLE if outcome == "not_eligible" else Phase.CLINICIAN_REVIEW
