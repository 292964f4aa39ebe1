"""A course as scheduling sees it, and what happens next after each step (pure decisions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from katflow_shared.contracts.base import CourseEventFields
from katflow_shared.contracts.common import Route
from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import Protocol


class CourseStatus(StrEnum):
    OPEN = "open"  # consultation and preparation (intake's phases)
    DOSING = "dosing"
    COMPLETED = "completed"
    HALTED = "halted"
    ENDED = "ended"


@dataclass(frozen=True)
class CoursePlan:
    id: UUID
    patient_id: UUID
    patient_time_zone: str
    status: CourseStatus
    route: Route | None
    protocol_version: str | None
    doses_given: int
    last_dose_at: datetime | None
    dose_days: frozenset[date]
    integration_outstanding: bool  # a dose whose integration was not held yet
    last_integration_held: bool
    open_dosing: bool  # a dosing appointment is scheduled or under way

    def event_fields(self) -> CourseEventFields:
        return CourseEventFields(course_id=self.id, patient_id=self.patient_id)


Next = Literal["book_next_dose", "complete_course", "wait"]


def after_session(protocol: Protocol, plan: CoursePlan) -> Next:
    """After a dose: book the next one now unless policy waits for its integration."""
    if plan.doses_given >= protocol.total_doses or plan.open_dosing:
        return "wait"
    return "wait" if protocol.integration.block_next_dose_until_held else "book_next_dose"


def after_integration(protocol: Protocol, plan: CoursePlan) -> Next:
    """After an integration session: the course completes after the last dose's integration."""
    if plan.doses_given >= protocol.total_doses:
        return "complete_course" if plan.last_integration_held else "wait"
    if plan.open_dosing or plan.status is not CourseStatus.DOSING:
        return "wait"
    if protocol.integration.block_next_dose_until_held and plan.integration_outstanding:
        return "wait"
    return "book_next_dose"


def require_dosing_open(plan: CoursePlan, protocol: Protocol) -> None:
    """Whether another dose may be booked now; raise naming the rule if not."""
    if plan.status is CourseStatus.HALTED:
        raise RuleViolation(["course_id"], "course_halted", "automation is halted pending review", 409)
    if plan.status is not CourseStatus.DOSING:
        raise RuleViolation(["course_id"], "preparation_required", f"course is {plan.status.value}", 409)
    if plan.open_dosing:
        raise RuleViolation(["course_id"], "dose_already_booked", "a dosing appointment is already open", 409)
    if plan.doses_given >= protocol.total_doses:
        raise RuleViolation(
            ["course_id"], "course_doses_exhausted", f"all {protocol.total_doses} doses given", 409
        )
    if protocol.integration.block_next_dose_until_held and plan.integration_outstanding:
        raise RuleViolation(
            ["course_id"], "integration_outstanding", "hold the last dose's integration first", 409
        )


def require_dose_now(
    plan: CoursePlan, protocol: Protocol, dose_number: int, spacing_rule: str | None
) -> None:
    """Re-check at check-in and administration: course open, integration held, cadence kept."""
    if plan.status is not CourseStatus.DOSING:
        rule = "course_halted" if plan.status is CourseStatus.HALTED else "course_not_dosing"
        raise RuleViolation(["course_id"], rule, f"course is {plan.status.value}", 409)
    if protocol.integration.block_next_dose_until_held and plan.integration_outstanding:
        raise RuleViolation(
            ["course_id"], "integration_outstanding", "hold the last dose's integration first", 409
        )
    if spacing_rule is not None:
        raise RuleViolation(["appointment_id"], spacing_rule, f"dose {dose_number} breaks the cadence", 409)
