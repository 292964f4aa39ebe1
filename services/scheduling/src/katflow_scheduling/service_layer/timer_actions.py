"""What each durable timer does when it fires (inside the worker's transaction, through the outbox);
the timer kind -> action table is ``entrypoints.timers``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from uuid import UUID

import asyncpg
import structlog

from katflow_shared import timers
from katflow_shared.contracts import IntegrationDue, IntegrationOverdue, MonitoringCheckDue
from katflow_shared.contracts.common import AppointmentKind, MonitoringCheck
from katflow_shared.errors import RuleViolation
from katflow_shared.messaging.errors import TRANSIENT_TYPES
from katflow_shared.timers import Timer, TimerContext

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_courses as courses
from ..adapters import postgres_sessions as sessions
from ..domain import timer_keys
from ..domain.appointments import Status
from ..domain.course import CoursePlan, CourseStatus
from . import booking, dosing, steps
from .deps import Deps

log = structlog.get_logger()


@dataclass(frozen=True)
class TimerActions:
    deps: Deps

    async def on_no_show(self, timer: Timer, ctx: TimerContext) -> None:
        """Still not checked in after the grace period: the patient missed the appointment."""
        appointment_id = UUID(timer.payload["appointment_id"])
        course_id = (await appointments.get(ctx.conn, appointment_id)).course_id
        await courses.lock_course(ctx.conn, course_id, with_timers=False)
        appt = await appointments.get(ctx.conn, appointment_id)
        if appt.status is Status.SCHEDULED:
            await steps.mark_missed(ctx.conn, appt, None, ctx.now, partial(ctx.emitter.emit, ctx.conn))

    async def on_monitoring_check(self, timer: Timer, ctx: TimerContext) -> None:
        """The check's alert names the clinician booked now (the booking may have been reassigned)."""
        session = await sessions.get(ctx.conn, session_id=UUID(timer.payload["session_id"]))
        appt = await appointments.get(ctx.conn, session["appointment_id"])
        event = MonitoringCheckDue(
            session_id=session["id"],
            course_id=UUID(timer.payload["course_id"]),
            check=MonitoringCheck(timer.payload["check"]),
            due_at=timer.due_at,
            clinician_id=appt.clinician_id,
        )
        await ctx.emitter.emit(ctx.conn, event)

    async def on_integration_due(self, timer: Timer, ctx: TimerContext) -> None:
        session = await sessions.get(ctx.conn, session_id=UUID(timer.payload["session_id"]))
        if session["integration_held_at"] is not None:
            return
        plan = await courses.load_plan(ctx.conn, session["course_id"])
        event = IntegrationDue(
            course_id=plan.id,
            patient_id=plan.patient_id,
            session_id=session["id"],
            dose_number=session["dose_number"],
            window_opens_at=session["integration_opens_at"],
            window_closes_at=session["integration_closes_at"],
        )
        await ctx.emitter.emit(ctx.conn, event)

    async def on_integration_overdue(self, timer: Timer, ctx: TimerContext) -> None:
        session = await sessions.get(ctx.conn, session_id=UUID(timer.payload["session_id"]))
        plan = await courses.lock_course(ctx.conn, session["course_id"], with_timers=False)
        if not await sessions.integration_overdue(ctx.conn, session["id"], ctx.now):
            return
        event = IntegrationOverdue(
            course_id=plan.id,
            patient_id=plan.patient_id,
            session_id=session["id"],
            dose_number=session["dose_number"],
            window_closed_at=timer.due_at,
        )
        await ctx.emitter.emit(ctx.conn, event)

    async def on_booking_retry(self, timer: Timer, ctx: TimerContext) -> None:
        """A waitlisted consultation or dose looks for a slot again. The next look is armed first, so
        a look that fails (logged as an error) does not end the wait; a booking ends it, and so does a
        course that no longer needs one (booked by hand, or a rule now refuses the dose)."""
        p = timer.payload
        plan = await courses.lock_course(ctx.conn, UUID(p["course_id"]), with_timers=False)
        kind, cause, look = AppointmentKind(p["kind"]), p["cause"], int(p["look"])
        if not await self._still_waiting(ctx.conn, plan, kind):
            return
        since = datetime.fromisoformat(p["since"])
        await booking.arm_retry(ctx.conn, self.deps, plan.id, kind, cause, look + 1, since)
        emit = partial(ctx.emitter.emit, ctx.conn)
        try:
            async with ctx.conn.transaction():  # savepoint: a failed look leaves the next one armed
                if kind is AppointmentKind.CONSULTATION:
                    found = await booking.book_consultation(ctx.conn, self.deps, plan, cause, emit)
                else:
                    found = await dosing.book_dose(ctx.conn, self.deps, plan, emit, cause)
        except TRANSIENT_TYPES:
            raise
        except RuleViolation as exc:  # e.g. an integration is now outstanding: the course books on
            log.info("booking_wait_ended", course_id=str(plan.id), rule=exc.rule)  # its own later
            await timers.cancel(ctx.conn, timer_keys.waitlist_prefix(plan.id))
            return
        except Exception as exc:
            log.error("booking_look_failed", course_id=str(plan.id), kind=kind.value, error=repr(exc))
            return
        if found is not None:
            await timers.cancel(ctx.conn, timer_keys.waitlist_prefix(plan.id))

    @staticmethod
    async def _still_waiting(conn: asyncpg.Connection, plan: CoursePlan, kind: AppointmentKind) -> bool:
        if kind is AppointmentKind.CONSULTATION:
            return plan.status is CourseStatus.OPEN and not await appointments.has_consultation(conn, plan.id)
        return plan.status is CourseStatus.DOSING and not plan.open_dosing
