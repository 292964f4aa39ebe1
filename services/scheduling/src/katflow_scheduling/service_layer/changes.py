"""Changes staff make: cancel, reschedule, no-show, and booking a dose or an integration by hand.

Each is one unit of work (``unit``) that emits its event and cancels or moves the appointment's
timers, and returns what it did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from katflow_shared.contracts.common import AppointmentKind, CancellationReason
from katflow_shared.errors import RuleViolation
from katflow_shared.unit_of_work import UnitOfWork, Units

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_calendar as calendar
from ..adapters import postgres_sessions as sessions
from ..domain.appointments import Appointment, Status, host_role, no_show_allowed, require
from ..domain.cadence import check_dose_cadence, require_future
from ..domain.course import CoursePlan
from ..domain.integration import check_integration_time
from ..domain.reservations import Need, Reservation, outside_hours
from ..domain.slots import Interval
from . import booking, dosing, steps
from .deps import Deps
from .unit import appointment_unit, course_unit
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


async def cancel(units: Units, appointment_id: UUID, reason: CancellationReason, by: str) -> StatusChanged:
    async with appointment_unit(units, appointment_id) as (uow, _, appt):
        require(appt, Status.SCHEDULED, Status.CHECKED_IN)
        await steps.cancel_appointment(uow, appt, reason, by)
    return StatusChanged(appointment_id, Status.CANCELLED.value)


async def no_show(units: Units, deps: Deps, appointment_id: UUID, by: str) -> StatusChanged:
    async with appointment_unit(units, appointment_id) as (uow, _, appt):
        no_show_allowed(appt, uow.now, deps.grace_minutes(appt.protocol_version))
        await steps.mark_missed(uow, appt, by)
    return StatusChanged(appointment_id, Status.MISSED.value)


async def reschedule(units: Units, deps: Deps, appointment_id: UUID, start: datetime) -> Rescheduled:
    async with appointment_unit(units, appointment_id) as (uow, plan, appt):
        require(appt, Status.SCHEDULED)
        end = start + (appt.ends_at - appt.starts_at)
        await _check_new_time(deps, uow, plan, appt, Interval(start, end))
        await calendar.lock_calendar(uow.conn)  # one change to reserved time at a time (booking.book)
        found = await _resources_at(uow, deps, appt, Interval(start, end))
        await _move(uow, appt, found)
        grace = deps.grace_minutes(appt.protocol_version)
        booking.arm_no_show(uow, plan.id, appt.id, start, grace)  # moves the pending timer
        uow.emit(steps.rescheduled(appt, start, end))
    return Rescheduled(appointment_id, start, end, found.clinician_id)


async def _move(uow: UnitOfWork, appt: Appointment, found: Reservation) -> None:
    try:
        async with uow.conn.transaction():
            await appointments.move(uow.conn, appt.id, found)
    except asyncpg.ExclusionViolationError:
        raise RuleViolation(["starts_at"], "double_booking", "someone booked that time first", 409) from None


async def _check_new_time(
    deps: Deps, uow: UnitOfWork, plan: CoursePlan, appt: Appointment, new: Interval
) -> None:
    start, end = new.start, new.end
    require_future(start, uow.now)
    if rule := outside_hours(deps.clinic, start, end, plan.patient_time_zone):
        raise RuleViolation(["starts_at"], rule, "the requested time is outside the bookable hours")
    if appt.kind is AppointmentKind.DOSING:
        protocol, number = deps.protocol(appt.protocol_version), appt.dose_number or 1
        check_dose_cadence(protocol, number, start, plan.last_dose_at, plan.dose_days, deps.clinic.time_zone)
    if appt.kind is AppointmentKind.INTEGRATION and appt.follows_session_id:
        session = await sessions.get(uow.conn, session_id=appt.follows_session_id)
        check_integration_time(booking.window_of(session), start, end - start, uow.now)


async def _resources_at(uow: UnitOfWork, deps: Deps, appt: Appointment, wanted: Interval) -> Reservation:
    """The same clinician and room when free, else any qualified free ones."""
    prefer = (appt.clinician_id, appt.room_id)
    return await booking.reserve_at(uow.conn, deps, _need(deps, appt), wanted, prefer, appt.id)


def _need(deps: Deps, appt: Appointment) -> Need:
    return deps.need(host_role(appt.kind), with_room=appt.room_id is not None)


async def book_dose(units: Units, deps: Deps, course_id: UUID, at: datetime | None) -> Booked:
    """At ``at``, or the first free slot the cadence allows (None)."""
    async with course_unit(units, course_id) as (uow, plan):
        found = await dosing.book_dose(uow, deps, plan, None, at)
    return _booked(found, plan.doses_given + 1)


async def book_integration(units: Units, deps: Deps, course_id: UUID, at: datetime | None) -> Booked:
    async with course_unit(units, course_id) as (uow, plan):
        session = await sessions.latest_unintegrated(uow.conn, course_id)
        if session is None:
            raise RuleViolation(
                ["course_id"], "no_integration_outstanding", "every dose's integration was held", 409
            )
        if await appointments.open_integration(uow.conn, session["id"]):
            raise RuleViolation(
                ["course_id"], "integration_already_booked", "an integration is already booked", 409
            )
        found = await booking.book_integration(uow, deps, plan, session, None, at)
    return _booked(found, session["dose_number"])


def _booked(found: Reservation | None, dose_number: int) -> Booked:
    if found is None:
        raise RuleViolation(["starts_at"], "no_free_slot", "nothing is free in the allowed range", 409)
    return Booked(found.start, found.end, found.clinician_id, found.room_id, dose_number)
