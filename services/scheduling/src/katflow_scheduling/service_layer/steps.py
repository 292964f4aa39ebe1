"""Steps several use cases share, each in the use case's unit of work: closing or moving an
appointment, waking the waitlist, arming timers, ending a course."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from katflow_shared import timers
from katflow_shared.contracts import (
    AppointmentCancelled,
    AppointmentMissed,
    AppointmentRescheduled,
    CourseCompleted,
)
from katflow_shared.contracts.common import AppointmentKind, CancellationReason
from katflow_shared.treatment_protocols import Protocol
from katflow_shared.unit_of_work import UnitOfWork

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_courses as courses
from ..adapters import postgres_waitlist as waiting
from ..domain import timer_keys
from ..domain.appointments import Appointment, Status
from ..domain.course import CoursePlan, CourseStatus
from ..domain.integration import Window, monitoring_prompts


async def cancel_appointment(
    uow: UnitOfWork, appt: Appointment, reason: CancellationReason, by: str | None
) -> None:
    """Free the appointment's clinician and room, drop its timers, announce the cancellation. The
    longest-waiting booking of the same kind (a full calendar's waitlist) looks for a slot now."""
    conn, now = uow.conn, uow.now
    await appointments.set_status(conn, appt.id, Status.CANCELLED, now, reason.value, by)
    await timers.cancel(conn, timer_keys.appointment(appt.course_id, appt.id))
    await wake_waiting(conn, appt.kind, now)
    uow.emit(AppointmentCancelled(**appt.event_fields(), reason=reason, cancelled_at=now))


async def wake_waiting(conn: asyncpg.Connection, kind: AppointmentKind, now: datetime) -> None:
    """The longest-waiting booking of ``kind`` (a full calendar's waitlist) looks for a slot now."""
    if (timer_id := await waiting.longest(conn, kind.value)) is not None:
        await timers.move(conn, timer_id, now)


def rescheduled(appt: Appointment, start: datetime, end: datetime) -> AppointmentRescheduled:
    return AppointmentRescheduled(
        **appt.event_fields(),
        previous_starts_at=appt.starts_at,
        starts_at=start,
        ends_at=end,
        patient_time_zone=appt.patient_time_zone,
    )


async def mark_missed(uow: UnitOfWork, appt: Appointment, by: str | None) -> None:
    await appointments.set_status(uow.conn, appt.id, Status.MISSED, uow.now, "no_show", by)
    await timers.cancel(uow.conn, timer_keys.appointment(appt.course_id, appt.id))
    uow.emit(AppointmentMissed(**appt.event_fields(), starts_at=appt.starts_at, marked_at=uow.now))


def arm_monitoring(
    uow: UnitOfWork, appt: Appointment, session_id: UUID, protocol: Protocol, administered_at: datetime
) -> None:
    """The dose's monitoring prompts (MonitoringCheckDue), scheduled with the unit's writes."""
    prefix = timer_keys.appointment(appt.course_id, appt.id)
    payload = {"session_id": str(session_id), "course_id": str(appt.course_id)}
    uow.schedule(
        [
            (timer_keys.MONITORING_CHECK, f"{prefix}{check.value}", due, payload | {"check": check.value})
            for check, due in monitoring_prompts(protocol, administered_at)
        ]
    )


def arm_integration(uow: UnitOfWork, course_id: UUID, session_id: UUID, window: Window) -> None:
    """IntegrationDue and IntegrationOverdue of the dose's session, scheduled with the unit's writes."""
    prefix = timer_keys.session(course_id, session_id)
    payload = {"session_id": str(session_id)}
    uow.schedule(
        [
            (timer_keys.INTEGRATION_DUE, prefix + timer_keys.INTEGRATION_DUE, window.due_at, payload),
            (
                timer_keys.INTEGRATION_OVERDUE,
                prefix + timer_keys.INTEGRATION_OVERDUE,
                window.closes_at,
                payload,
            ),
        ]
    )


async def complete_course(uow: UnitOfWork, plan: CoursePlan) -> None:
    await courses.set_status(uow.conn, plan.id, CourseStatus.COMPLETED, uow.now)
    uow.emit(CourseCompleted(**plan.event_fields(), doses=plan.doses_given, completed_at=uow.now))


async def stop_course(
    uow: UnitOfWork, plan: CoursePlan, status: CourseStatus, reason: CancellationReason
) -> None:
    """Halt or end a course: every appointment not yet begun is cancelled with its timers. A dose under
    way keeps its monitoring prompts, and integration timers keep escalating to staff."""
    for appt in await appointments.open_of_course(uow.conn, plan.id):
        if appt.status is Status.SCHEDULED:
            await cancel_appointment(uow, appt, reason, None)
    await timers.cancel(uow.conn, timer_keys.waitlist_prefix(plan.id))  # a booking waiting for a slot
    await courses.set_status(uow.conn, plan.id, status)
