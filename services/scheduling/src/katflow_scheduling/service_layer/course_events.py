"""scheduling's reactions to workflow events: each phase transition triggers the next on its own.

ConsultationRequested → book the consultation.
PreparationCompleted → book dose 1. SessionAdministered → arm IntegrationDue/Overdue, book the
integration inside its window (and the next dose when policy does not wait). AppointmentCompleted of
an integration → next dose per cadence, or CourseCompleted after the last dose's integration.
UrgentReviewRequired → halt. EligibilityDecided → resume or end.
A consultation or dose that finds the calendar full is waitlisted (``booking.waitlist``).
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
from katflow_shared.messaging.emitter import HandlerContext
from katflow_shared.messaging.errors import PermanentError

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

    async def on_consultation_requested(self, event: ConsultationRequested, ctx: HandlerContext) -> None:
        zone = event.patient_time_zone
        plan = await courses.ensure_course(ctx.conn, event.course_id, event.patient_id, zone)
        await self._book_consultation(plan or await courses.load_plan(ctx.conn, event.course_id), ctx)

    async def on_preparation_completed(self, event: PreparationCompleted, ctx: HandlerContext) -> None:
        await courses.ensure_course(ctx.conn, event.course_id, event.patient_id, event.patient_time_zone)
        await courses.lock_course(ctx.conn, event.course_id)
        self.deps.protocol(event.protocol_version)  # unknown version: dead letter, not a guess
        if not await courses.prepare_course(
            ctx.conn, event.course_id, event.route, event.protocol_version, event.completed_at
        ):
            return
        plan = await courses.load_plan(ctx.conn, event.course_id)
        if plan.status is CourseStatus.DOSING:
            await self._book_dose(plan, ctx, ctx.envelope.id)

    async def on_session_administered(self, event: SessionAdministered, ctx: HandlerContext) -> None:
        plan = await courses.lock_course(ctx.conn, event.course_id)
        session = await sessions.get(ctx.conn, session_id=event.session_id)
        if session["integration_held_at"] is None:
            window = booking.window_of(session)
            await steps.arm_integration(ctx.conn, plan.id, event.session_id, window)
            if plan.status is CourseStatus.DOSING:
                await booking.book_integration(ctx.conn, self.deps, plan, session, ctx.emit, ctx.envelope.id)
        if (
            plan.status is CourseStatus.DOSING
            and after_session(self.deps.protocol_of(plan), plan) == "book_next_dose"
        ):
            await self._book_dose(plan, ctx, cause=None)  # the event already caused the integration

    async def on_appointment_completed(self, event: AppointmentCompleted, ctx: HandlerContext) -> None:
        if event.kind is not AppointmentKind.INTEGRATION:
            return
        plan = await courses.lock_course(ctx.conn, event.course_id)
        if plan.status is not CourseStatus.DOSING:
            return
        step = after_integration(self.deps.protocol_of(plan), plan)
        if step == "complete_course":
            await steps.complete_course(ctx.conn, plan, self.deps.clock.now(), ctx.emit)
        elif step == "book_next_dose":
            await self._book_dose(plan, ctx, ctx.envelope.id)

    async def _book_dose(self, plan: CoursePlan, ctx: HandlerContext, cause: str | None) -> None:
        """Book the next dose on an event, or waitlist it when the calendar is full; a rule cannot be
        fixed by retrying. ``cause`` (the event id) makes the booking idempotent; None when the event
        booked something else."""
        try:
            booked = await dosing.book_dose(ctx.conn, self.deps, plan, ctx.emit, cause)
        except RuleViolation as exc:
            raise PermanentError(f"{exc.rule}: {exc.message}") from exc
        if booked is None:
            await booking.waitlist(ctx.conn, self.deps, plan, AppointmentKind.DOSING, cause, ctx.emit)

    async def _book_consultation(self, plan: CoursePlan, ctx: HandlerContext) -> None:
        """Book the course's consultation on an event (its id makes it idempotent), or waitlist it."""
        cause = ctx.envelope.id
        if await booking.book_consultation(ctx.conn, self.deps, plan, cause, ctx.emit) is None:
            await booking.waitlist(ctx.conn, self.deps, plan, AppointmentKind.CONSULTATION, cause, ctx.emit)

    async def on_urgent_review(self, event: UrgentReviewRequired, ctx: HandlerContext) -> None:
        plan = await courses.lock_course(ctx.conn, event.course_id)
        if plan.status not in (*FINISHED, CourseStatus.HALTED):
            reason = CancellationReason.COURSE_HALTED
            await steps.stop_course(
                ctx.conn, plan, CourseStatus.HALTED, reason, self.deps.clock.now(), ctx.emit
            )

    async def on_eligibility_decided(self, event: EligibilityDecided, ctx: HandlerContext) -> None:
        plan = await courses.lock_course(ctx.conn, event.course_id)
        prepared = plan.protocol_version is not None
        if event.outcome is EligibilityOutcome.ELIGIBLE and plan.status in (
            CourseStatus.HALTED,
            CourseStatus.ENDED,
        ):
            await courses.set_status(
                ctx.conn, plan.id, CourseStatus.DOSING if prepared else CourseStatus.OPEN
            )
            if not prepared and not await appointments.has_consultation(ctx.conn, plan.id):
                # it was waiting for a consultation slot when it stopped (the stop ended the wait)
                await self._book_consultation(await courses.load_plan(ctx.conn, plan.id), ctx)
        elif event.outcome is EligibilityOutcome.NOT_ELIGIBLE and plan.status not in FINISHED:
            reason = CancellationReason.CLINIC_REQUEST
            await steps.stop_course(
                ctx.conn, plan, CourseStatus.ENDED, reason, self.deps.clock.now(), ctx.emit
            )
