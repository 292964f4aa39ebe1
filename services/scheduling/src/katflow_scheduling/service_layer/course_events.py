"""scheduling's reactions to workflow events: each phase transition triggers the next on its own.

ConsultationRequested → book the consultation.
PreparationCompleted → book dose 1. SessionAdministered → arm IntegrationDue/Overdue, book the
integration inside its window (and the next dose when policy does not wait). AppointmentCompleted of
an integration → next dose per cadence, or CourseCompleted after the last dose's integration.
UrgentReviewRequired → halt. EligibilityDecided → resume or end.
A consultation or dose that finds the calendar full is waitlisted (``booking.waitlist``).
Each reaction runs in the unit of work the consumer opens for the event (its cause, its inbox row).
"""

from __future__ import annotations

from dataclasses import dataclass

from katflow_shared.contracts import (
    AppointmentCompleted,
    ConsultationRequested,
    EligibilityDecided,
    PreparationCompleted,
    SessionAdministered,
    UrgentReviewRequired,
)
from katflow_shared.contracts.common import AppointmentKind, CancellationReason, EligibilityOutcome
from katflow_shared.errors import RuleViolation
from katflow_shared.messaging.errors import PermanentError
from katflow_shared.unit_of_work import UnitOfWork

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_courses as courses
from ..adapters import postgres_sessions as sessions
from ..domain.course import CoursePlan, CourseStatus, after_integration, after_session
from . import booking, dosing, steps
from .deps import Deps

FINISHED = (CourseStatus.COMPLETED, CourseStatus.ENDED)


@dataclass(frozen=True)
class CourseEvents:
    deps: Deps

    async def on_consultation_requested(self, event: ConsultationRequested, uow: UnitOfWork) -> None:
        zone = event.patient_time_zone
        plan = await courses.ensure_course(uow.conn, event.course_id, event.patient_id, zone)
        await self._book_consultation(plan or await courses.load_plan(uow.conn, event.course_id), uow)

    async def on_preparation_completed(self, event: PreparationCompleted, uow: UnitOfWork) -> None:
        await courses.ensure_course(uow.conn, event.course_id, event.patient_id, event.patient_time_zone)
        await courses.lock_course(uow.conn, event.course_id)
        self.deps.protocol(event.protocol_version)  # unknown version: dead letter, not a guess
        if not await courses.prepare_course(
            uow.conn, event.course_id, event.route, event.protocol_version, event.completed_at
        ):
            return
        plan = await courses.load_plan(uow.conn, event.course_id)
        if plan.status is CourseStatus.DOSING:
            await self._book_dose(plan, uow, _event_id(uow))

    async def on_session_administered(self, event: SessionAdministered, uow: UnitOfWork) -> None:
        plan = await courses.lock_course(uow.conn, event.course_id)
        session = await sessions.get(uow.conn, session_id=event.session_id)
        if session["integration_held_at"] is None:
            steps.arm_integration(uow, plan.id, event.session_id, booking.window_of(session))
            if plan.status is CourseStatus.DOSING:
                await booking.book_integration(uow, self.deps, plan, session, _event_id(uow))
        if (
            plan.status is CourseStatus.DOSING
            and after_session(self.deps.protocol_of(plan), plan) == "book_next_dose"
        ):
            await self._book_dose(plan, uow, cause=None)  # the event already caused the integration

    async def on_appointment_completed(self, event: AppointmentCompleted, uow: UnitOfWork) -> None:
        if event.kind is not AppointmentKind.INTEGRATION:
            return
        plan = await courses.lock_course(uow.conn, event.course_id)
        if plan.status is not CourseStatus.DOSING:
            return
        step = after_integration(self.deps.protocol_of(plan), plan)
        if step == "complete_course":
            await steps.complete_course(uow, plan)
        elif step == "book_next_dose":
            await self._book_dose(plan, uow, _event_id(uow))

    async def _book_dose(self, plan: CoursePlan, uow: UnitOfWork, cause: str | None) -> None:
        """Book the next dose on an event, or waitlist it when the calendar is full; a rule cannot be
        fixed by retrying. ``cause`` (the event id) makes the booking idempotent; None when the event
        booked something else."""
        try:
            booked = await dosing.book_dose(uow, self.deps, plan, cause)
        except RuleViolation as exc:
            raise PermanentError(f"{exc.rule}: {exc.message}") from exc
        if booked is None:
            booking.waitlist(uow, self.deps, plan, AppointmentKind.DOSING, cause)

    async def _book_consultation(self, plan: CoursePlan, uow: UnitOfWork) -> None:
        """Book the course's consultation on an event (its id makes it idempotent), or waitlist it."""
        cause = _event_id(uow)
        if await booking.book_consultation(uow, self.deps, plan, cause) is None:
            booking.waitlist(uow, self.deps, plan, AppointmentKind.CONSULTATION, cause)

    async def on_urgent_review(self, event: UrgentReviewRequired, uow: UnitOfWork) -> None:
        plan = await courses.lock_course(uow.conn, event.course_id)
        if plan.status not in (*FINISHED, CourseStatus.HALTED):
            await steps.stop_course(uow, plan, CourseStatus.HALTED, CancellationReason.COURSE_HALTED)

    async def on_eligibility_decided(self, event: EligibilityDecided, uow: UnitOfWork) -> None:
        plan = await courses.lock_course(uow.conn, event.course_id)
        prepared = plan.protocol_version is not None
        if event.outcome is EligibilityOutcome.ELIGIBLE and plan.status in (
            CourseStatus.HALTED,
            CourseStatus.ENDED,
        ):
            await courses.set_status(
                uow.conn, plan.id, CourseStatus.DOSING if prepared else CourseStatus.OPEN
            )
            if not prepared and not await appointments.has_consultation(uow.conn, plan.id):
                # it was waiting for a consultation slot when it stopped (the stop ended the wait)
                await self._book_consultation(await courses.load_plan(uow.conn, plan.id), uow)
        elif event.outcome is EligibilityOutcome.NOT_ELIGIBLE and plan.status not in FINISHED:
            await steps.stop_course(uow, plan, CourseStatus.ENDED, CancellationReason.CLINIC_REQUEST)


def _event_id(uow: UnitOfWork) -> str:
    """The id of the event being handled: a booking it causes is idempotent on it."""
    if uow.cause is None:
        raise PermanentError("a workflow event's use case runs in a unit caused by the event")
    return uow.cause.id
