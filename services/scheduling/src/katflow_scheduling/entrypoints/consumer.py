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
from katflow_shared.messaging.consumer import AnyHandler, UseCase
from katflow_shared.unit_of_work import UnitOfWork

from ..service_layer.course_events import CourseEvents
from ..service_layer.deps import Deps

Reaction = Callable[[Any, UnitOfWork], Awaitable[None]]
USE_CASES: Mapping[type[Event], Callable[[CourseEvents], Reaction]] = {
    ConsultationRequested: lambda course: _inbox_first(course.on_consultation_requested),
    PreparationCompleted: lambda course: course.on_preparation_completed,
    SessionAdministered: lambda course: _inbox_first(course.on_session_administered),
    AppointmentCompleted: lambda course: _inbox_first(course.on_appointment_completed),
    UrgentReviewRequired: lambda course: course.on_urgent_review,
    EligibilityDecided: lambda course: course.on_eligibility_decided,
}
CONSUMES = tuple(USE_CASES)


def handlers(deps: Deps) -> dict[type[Event], AnyHandler]:
    course = CourseEvents(deps)
    return {cls: UseCase(use_case(course)) for cls, use_case in USE_CASES.items()}


def _inbox_first(reaction: Reaction) -> Reaction:
    """For the reactions that book with the event as cause: the event's inbox row is sent first, alone
    (``flush``), so a redelivered event stops there on the inbox key, before it books again. Run twice,
    they would fail on the booking's ``cause_event`` key or on a rule (``dose_already_booked``), and
    those errors come before the inbox row's in the unit's last statement (PostgreSQL runs its parts
    last-first). The other reactions are guarded by the course's state (prepared, halted, ended): a
    redelivery changes nothing and fails on the inbox row at the end."""

    async def run(event: Any, uow: UnitOfWork) -> None:
        await uow.flush()
        await reaction(event, uow)

    return run
