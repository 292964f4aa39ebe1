"""Steps several use cases share: closing or moving an appointment, waking the waitlist, arming
timers, ending a course."""

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

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_courses as courses
from ..adapters import postgres_waitlist as waiting
from ..domain import timer_keys
from ..domain.appointments import Appointment, Status
from ..domain.course import CoursePlan, CourseStatus
from ..domain.integration import Window, monitoring_prompts
from .deps import Emit


async def cancel_appointment(
    conn: asyncpg.Connection,
    appt: Appointment,
    reason: CancellationReason,
    by: str | None,
    now: datetime,
    emit: Emit,
) -> None:
    """Free the appointment's clinician and room, drop its timers, announce the cancellation. The
    longest-waiting booking of the same kind (a full calendar's waitlist) looks for a slot now."""
    await appointments.set_status(conn, appt.id, Status.CANCELLED, now, reason.value, by)
    await timers.cancel(conn, timer_keys.appointment(appt.course_id, appt.id))
    await wake_waiting(conn, appt.kind, now)
    await emit(
        AppointmentCancelled(
            appointment_id=appt.id,
            course_id=appt.course_id,
            patient_id=appt.patient_id,
            kind=appt.kind,
            reason=reason,
            cancelled_at=now,
        )
    )


async def wake_waiting(conn: asyncpg.Connection, kind: AppointmentKind, now: datetime) -> None:
    """The longest-waiting booking of ``kind`` (a full calendar's waitlist) looks for a slot now."""
    if (timer_id := await waiting.longest(conn, kind.value)) is not None:
        await timers.move(conn, timer_id, now)


def rescheduled(appt: Appointment, start: datetime, end: datetime) -> AppointmentRescheduled:
    return AppointmentRescheduled(
        appointment_id=appt.id,
        course_id=appt.course_id,
        patient_id=appt.patient_id,
        kind=appt.kind,
        previous_starts_at=appt.starts_at,
        starts_at=start,
        ends_at=end,
        patient_time_zone=appt.patient_time_zone,
    )


async def mark_missed(
    conn: asyncpg.Connection, appt: Appointment, by: str | None, now: datetime, emit: Emit
) -> None:
    await appointments.set_status(conn, appt.id, Status.MISSED, now, "no_show", by)
    await timers.cancel(conn, timer_keys.appointment(appt.course_id, appt.id))
    await emit(
        AppointmentMissed(
            appointment_id=appt.id,
            course_id=appt.course_id,
            patient_id=appt.patient_id,
            kind=appt.kind,
            starts_at=appt.starts_at,
            marked_at=now,
        )
    )


async def arm_monitoring(
    conn: asyncpg.Connection,
    appt: Appointment,
    session_id: UUID,
    protocol: Protocol,
    administered_at: datetime,
) -> None:
    prefix = timer_keys.appointment(appt.course_id, appt.id)
    for check, due in monitoring_prompts(protocol, administered_at):
        payload = {"session_id": str(session_id), "course_id": str(appt.course_id), "check": check.value}
        await timers.schedule(conn, timer_keys.MONITORING_CHECK, f"{prefix}{check.value}", due, payload)


async def arm_integration(
    conn: asyncpg.Connection, course_id: UUID, session_id: UUID, window: Window
) -> None:
    prefix = timer_keys.session(course_id, session_id)
    payload = {"session_id": str(session_id)}
    await timers.schedule(
        conn, timer_keys.INTEGRATION_DUE, prefix + timer_keys.INTEGRATION_DUE, window.due_at, payload
    )
    await timers.schedule(
        conn,
        timer_keys.INTEGRATION_OVERDUE,
        prefix + timer_keys.INTEGRATION_OVERDUE,
        window.closes_at,
        payload,
    )


async def complete_course(conn: asyncpg.Connection, plan: CoursePlan, now: datetime, emit: Emit) -> None:
    await courses.set_status(conn, plan.id, CourseStatus.COMPLETED, now)
    await emit(
        CourseCompleted(
            course_id=plan.id, patient_id=plan.patient_id, doses=plan.doses_given, completed_at=now
        )
    )


async def stop_course(
    conn: asyncpg.Connection,
    plan: CoursePlan,
    status: CourseStatus,
    reason: CancellationReason,
    now: datetime,
    emit: Emit,
) -> None:
    """Halt or end a course: every appointment not yet begun is cancelled with its timers. A dose under
    way keeps its monitoring prompts, and integration timers keep escalating to staff."""
    for appt in await appointments.open_of_course(conn, plan.id):
        if appt.status is Status.SCHEDULED:
            await cancel_appointment(conn, appt, reason, None, now, emit)
    await timers.cancel(conn, timer_keys.waitlist_prefix(plan.id))  # a booking waiting for a slot
    await courses.set_status(conn, plan.id, status)
