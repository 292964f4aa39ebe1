"""Changes staff make: cancel, reschedule, no-show, and booking a dose or an integration by hand.

Each emits its event and cancels or moves the appointment's timers in the same transaction, and
returns what it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from katflow_shared.contracts.common import AppointmentKind, CancellationReason
from katflow_shared.errors import RuleViolation
from katflow_shared.runtime import Runtime

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_calendar as calendar
from ..adapters import postgres_sessions as sessions
from ..domain.appointments import Appointment, Status, host_role, no_show_allowed, require
from ..domain.cadence import check_dose_cadence, require_future
from ..domain.integration import check_integration_time
from ..domain.reservations import Need, Reservation, outside_hours
from ..domain.slots import Interval
from . import booking, dosing, steps
from .deps import Deps
from .unit import AppointmentUnit, appointment_unit, course_unit
from .visits import StatusChanged


@dataclass(frozen=True)
class Rescheduled:
    appointment_id: UUID
    starts_at: datetime
    ends_at: datetime
    clinician_id: str


@dataclass(frozen=True)
class Booked:
    starts_at: datetime
    ends_at: datetime
    clinician_id: str
    room_id: str | None
    dose_number: int


async def cancel(
    runtime: Runtime, appointment_id: UUID, reason: CancellationReason, by: str
) -> StatusChanged:
    async with appointment_unit(runtime, appointment_id) as u:
        require(u.appt, Status.SCHEDULED, Status.CHECKED_IN)
        await steps.cancel_appointment(u.conn, u.appt, reason, by, u.now, u.emit)
    return StatusChanged(appointment_id, Status.CANCELLED.value)


async def no_show(runtime: Runtime, deps: Deps, appointment_id: UUID, by: str) -> StatusChanged:
    async with appointment_unit(runtime, appointment_id) as u:
        no_show_allowed(u.appt, u.now, deps.grace_minutes(u.appt.protocol_version))
        await steps.mark_missed(u.conn, u.appt, by, u.now, u.emit)
    return StatusChanged(appointment_id, Status.MISSED.value)


async def reschedule(runtime: Runtime, deps: Deps, appointment_id: UUID, start: datetime) -> Rescheduled:
    async with appointment_unit(runtime, appointment_id) as u:
        require(u.appt, Status.SCHEDULED)
        end = start + (u.appt.ends_at - u.appt.starts_at)
        await _check_new_time(deps, u, start, end)
        await calendar.lock_calendar(u.conn)  # one change to reserved time at a time (booking.book)
        found = await _resources_at(u, deps, start, end)
        await _move(u, found)
        grace = deps.grace_minutes(u.appt.protocol_version)
        await booking.arm_no_show(u.conn, u.plan.id, u.appt.id, start, grace)  # moves the pending timer
        await u.emit(steps.rescheduled(u.appt, start, end))
    return Rescheduled(appointment_id, start, end, found.clinician_id)


async def _move(u: AppointmentUnit, found: Reservation) -> None:
    try:
        async with u.conn.transaction():
            await appointments.move(u.conn, u.appt.id, found)
    except asyncpg.ExclusionViolationError:
        raise RuleViolation(["starts_at"], "double_booking", "someone booked that time first", 409) from None


async def _check_new_time(deps: Deps, u: AppointmentUnit, start: datetime, end: datetime) -> None:
    require_future(start, u.now)
    if rule := outside_hours(deps.clinic, start, end, u.plan.patient_time_zone):
        raise RuleViolation(["starts_at"], rule, "the requested time is outside the bookable hours")
    if u.appt.kind is AppointmentKind.DOSING:
        protocol, number = deps.protocol(u.appt.protocol_version), u.appt.dose_number or 1
        check_dose_cadence(
            protocol, number, start, u.plan.last_dose_at, u.plan.dose_days, deps.clinic.time_zone
        )
    if u.appt.kind is AppointmentKind.INTEGRATION and u.appt.follows_session_id:
        session = await sessions.get(u.conn, session_id=u.appt.follows_session_id)
        check_integration_time(booking.window_of(session), start, end - start, u.now)


async def _resources_at(u: AppointmentUnit, deps: Deps, start: datetime, end: datetime) -> Reservation:
    """The same clinician and room when free, else any qualified free ones."""
    prefer = (u.appt.clinician_id, u.appt.room_id)
    return await booking.reserve_at(
        u.conn, deps, _need(deps, u.appt), Interval(start, end), prefer, u.appt.id
    )


def _need(deps: Deps, appt: Appointment) -> Need:
    return deps.need(host_role(appt.kind), with_room=appt.room_id is not None)


async def book_dose(runtime: Runtime, deps: Deps, course_id: UUID, at: datetime | None) -> Booked:
    """At ``at``, or the first free slot the cadence allows (None)."""
    async with course_unit(runtime, course_id) as u:
        found = await dosing.book_dose(u.conn, deps, u.plan, u.emit, None, at)
    return _booked(found, u.plan.doses_given + 1)


async def book_integration(runtime: Runtime, deps: Deps, course_id: UUID, at: datetime | None) -> Booked:
    async with course_unit(runtime, course_id) as u:
        session = await sessions.latest_unintegrated(u.conn, course_id)
        if session is None:
            raise RuleViolation(
                ["course_id"], "no_integration_outstanding", "every dose's integration was held", 409
            )
        if await appointments.open_integration(u.conn, session["id"]):
            raise RuleViolation(
                ["course_id"], "integration_already_booked", "an integration is already booked", 409
            )
        found = await booking.book_integration(u.conn, deps, u.plan, session, u.emit, None, at)
    return _booked(found, session["dose_number"])


def _booked(found: Reservation | None, dose_number: int) -> Booked:
    if found is None:
        raise RuleViolation(["starts_at"], "no_free_slot", "nothing is free in the allowed range", 409)
    return Booked(found.start, found.end, found.clinician_id, found.room_id, dose_number)
