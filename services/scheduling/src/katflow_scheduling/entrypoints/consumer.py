"""Event type -> use case: the workflow events scheduling consumes, each taken by its reaction in
``service_layer.course_events``, run by the consumer in a unit of work caused by the event. The
handler map is built from this table, and the contract docs (katflow docs) read ``CONSUMES``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from katflow_shared.contracts import (
    AppointmentCompleted,
    ConsultationRequested,
    EligibilityDecided,
    Event,
    PreparationCompleted,
    SessionAdministered,
    UrgentReviewRequired,
)
from katflow_shared.messaging.consumer import UseCase
from katflow_shared.unit_of_work import UnitOfWork

from ..service_layer.course_events import CourseEvents
from ..service_layer.deps import Deps

Reaction = Callable[[Any, UnitOfWork], Awaitable[None]]
USE_CASES: Mapping[type[Event], Callable[[CourseEvents], Reaction]] = {
    ConsultationRequested: lambda course: course.on_consultation_requested,
    PreparationCompleted: lambda course: course.on_preparation_completed,
    SessionAdministered: lambda course: course.on_session_administered,
    AppointmentCompleted: lambda course: course.on_appointment_completed,
    UrgentReviewRequired: lambda course: course.on_urgent_review,
    EligibilityDecided: lambda course: course.on_eligibility_decided,
}
CONSUMES = tuple(USE_CASES)


def handlers(deps: Deps) -> dict[type[Event], UseCase]:
    course = CourseEvents(deps)
    return {cls: UseCase(use_case(course)) for cls, use_case in USE_CASES.items()}
