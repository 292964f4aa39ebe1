"""What each durable timer does when it fires, in the unit of work the timer worker opens for it (in
the transaction that marks it fired); the timer kind -> action table is ``entrypoints.timers``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog

from katflow_shared import timers
from katflow_shared.contracts import IntegrationDue, IntegrationOverdue, MonitoringCheckDue
from katflow_shared.contracts.common import AppointmentKind, MonitoringCheck
from katflow_shared.errors import RuleViolation
from katflow_shared.messaging.errors import TRANSIENT_TYPES
from katflow_shared.timers import Timer
from katflow_shared.unit_of_work import UnitOfWork

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

    async def on_no_show(self, timer: Timer, uow: UnitOfWork) -> None:
        """Still not checked in after the grace period: the patient missed the appointment."""
        appointment_id = UUID(timer.payload["appointment_id"])
        course_id = (await appointments.get(uow.conn, appointment_id)).course_id
        await courses.lock_course(uow.conn, course_id, with_timers=False)
        appt = await appointments.get(uow.conn, appointment_id)
        if appt.status is Status.SCHEDULED:
            await steps.mark_missed(uow, appt, None)

    async def on_monitoring_check(self, timer: Timer, uow: UnitOfWork) -> None:
        """The check's alert names the clinician booked now (the booking may have been reassigned)."""
        session = await sessions.get(uow.conn, session_id=UUID(timer.payload["session_id"]))
        appt = await appointments.get(uow.conn, session["appointment_id"])
        event = MonitoringCheckDue(
            session_id=session["id"],
            course_id=UUID(timer.payload["course_id"]),
            check=MonitoringCheck(timer.payload["check"]),
            due_at=timer.due_at,
            clinician_id=appt.clinician_id,
        )
        uow.emit(event)

    async def on_integration_due(self, timer: Timer, uow: UnitOfWork) -> None:
        session = await sessions.get(uow.conn, session_id=UUID(timer.payload["session_id"]))
        if session["integration_held_at"] is not None:
            return
        plan = await courses.load_plan(uow.conn, session["course_id"])
        event = IntegrationDue(
            **plan.event_fields(),
            session_id=session["id"],
            dose_number=session["dose_number"],
            window_opens_at=session["integration_opens_at"],
            window_closes_at=session["integration_closes_at"],
        )
        uow.emit(event)

    async def on_integration_overdue(self, timer: Timer, uow: UnitOfWork) -> None:
        session = await sessions.get(uow.conn, session_id=UUID(timer.payload["session_id"]))
        plan = await courses.lock_course(uow.conn, session["course_id"], with_timers=False)
        if not await sessions.integration_overdue(uow.conn, session["id"], uow.now):
            return
        event = IntegrationOverdue(
            **plan.event_fields(),
            session_id=session["id"],
            dose_number=session["dose_number"],
            window_closed_at=timer.due_at,
        )
        uow.emit(event)

    async def on_booking_retry(self, timer: Timer, uow: UnitOfWork) -> None:
        """A waitlisted consultation or dose looks for a slot again. The next look is armed first, so
        a look that fails (logged as an error) does not end the wait; a booking ends it, and so does a
        course that no longer needs one (booked by hand, or a rule now refuses the dose)."""
        p = timer.payload
        plan = await courses.lock_course(uow.conn, UUID(p["course_id"]), with_timers=False)
        kind, cause, look = AppointmentKind(p["kind"]), p["cause"], int(p["look"])
        if not await self._still_waiting(uow, plan, kind):
            return
        booking.arm_retry(uow, self.deps, plan.id, kind, cause, look + 1, datetime.fromisoformat(p["since"]))
        await uow.flush()  # the next look, outside the savepoint below; a cancel of the wait sees it
        try:
            async with uow.conn.transaction():  # savepoint: a failed look leaves the next one armed
                found = await self._look(uow, plan, kind, cause)
        except TRANSIENT_TYPES:
            raise
        except RuleViolation as exc:  # e.g. an integration is now outstanding: the course books on
            log.info("booking_wait_ended", course_id=str(plan.id), rule=exc.rule)  # its own later
            await timers.cancel(uow.conn, timer_keys.waitlist_prefix(plan.id))
            return
        except Exception as exc:
            log.error("booking_look_failed", course_id=str(plan.id), kind=kind.value, error=repr(exc))
            return
        if found:
            await timers.cancel(uow.conn, timer_keys.waitlist_prefix(plan.id))

    async def _look(
        self, uow: UnitOfWork, plan: CoursePlan, kind: AppointmentKind, cause: str | None
    ) -> bool:
        """Book the waiting consultation or dose now, if a slot is free; whether one was. What the
        booking emits is sent before the savepoint ends (``flush``), so a failed look writes nothing."""
        if kind is AppointmentKind.CONSULTATION:
            found = await booking.book_consultation(uow, self.deps, plan, cause)
        else:
            found = await dosing.book_dose(uow, self.deps, plan, cause)
        await uow.flush()
        return found is not None

    @staticmethod
    async def _still_waiting(uow: UnitOfWork, plan: CoursePlan, kind: AppointmentKind) -> bool:
        if kind is AppointmentKind.CONSULTATION:
            return plan.status is CourseStatus.OPEN and not await appointments.has_consultation(
                uow.conn, plan.id
            )
        return plan.status is CourseStatus.DOSING and not plan.open_dosing
