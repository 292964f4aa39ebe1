"""What a clinic change (a closure, a clinician's time off, a room's capabilities, ...) does to the
appointments it leaves invalid: each is given another qualified clinician (or a room with the
capabilities it needs) at the same time when one is free (nothing changes for the patient),
else moved to the first later time the reschedule rules allow (AppointmentRescheduled: the patient
is told), else left where it is and reported to staff (AppointmentDisplaced). Runs in the admin
change's unit of work, under the calendar lock, with the changed clinic already in force."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import asyncpg

from katflow_shared.contracts import AppointmentDisplaced
from katflow_shared.contracts.common import AppointmentKind, ClinicChange
from katflow_shared.errors import RuleViolation
from katflow_shared.unit_of_work import UnitOfWork

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_calendar as calendar
from ..adapters import postgres_courses as courses
from ..adapters import postgres_sessions as sessions
from ..domain.appointments import Appointment, host_role
from ..domain.cadence import spacing_violation
from ..domain.integration import check_integration_time
from ..domain.reservations import Need, Reservation, first_reservation
from . import booking, steps
from .deps import Deps

Allowed = Callable[[datetime], bool]
Outcome = Literal["reassigned", "moved", "displaced"]


@dataclass(frozen=True)
class Resettled:
    appointment_id: UUID
    kind: str
    outcome: Outcome
    previous_starts_at: datetime
    starts_at: datetime
    clinician_id: str


async def resettle(uow: UnitOfWork, deps: Deps, appointment_id: UUID, cause: ClinicChange) -> Resettled:
    conn, now = uow.conn, uow.now
    appt = await appointments.get(conn, appointment_id)
    found = await _new_place(conn, deps, appt, now)
    if found is None:
        uow.emit(_displaced(appt, cause, now))
        return Resettled(
            appt.id, appt.kind.value, "displaced", appt.starts_at, appt.starts_at, appt.clinician_id
        )
    await appointments.move(conn, appt.id, found)
    if found.start == appt.starts_at:
        return Resettled(
            appt.id, appt.kind.value, "reassigned", appt.starts_at, found.start, found.clinician_id
        )
    grace = deps.grace_minutes(appt.protocol_version)
    booking.arm_no_show(uow, appt.course_id, appt.id, found.start, grace)  # moves the timer
    uow.emit(steps.rescheduled(appt, found.start, found.end))
    return Resettled(appt.id, appt.kind.value, "moved", appt.starts_at, found.start, found.clinician_id)


async def _new_place(
    conn: asyncpg.Connection, deps: Deps, appt: Appointment, now: datetime
) -> Reservation | None:
    clinic, duration = deps.clinic, appt.ends_at - appt.starts_at
    need = _need(deps, appt)
    if need is None:
        return None
    earliest = max(appt.starts_at, now)
    until = earliest + timedelta(days=clinic.booking_horizon_days + 1)
    busy = await calendar.busy(conn, [*need.clinicians, *need.rooms], earliest, until, exclude=appt.id)
    allowed = await _rules(conn, deps, appt, now)
    prefer = (appt.clinician_id, appt.room_id)  # kept when they still can (a room change)
    zone = appt.patient_time_zone
    return first_reservation(clinic, need, busy, earliest, duration, zone, allowed=allowed, prefer=prefer)


def room_capabilities(deps: Deps, appt: Appointment) -> tuple[str, ...]:
    """What the appointment's room must have: its protocol's dosing.room_capabilities for a dose."""
    if appt.kind is AppointmentKind.DOSING and appt.protocol_version:
        return tuple(deps.protocol(appt.protocol_version).dosing.room_capabilities)
    return ()


def _need(deps: Deps, appt: Appointment) -> Need | None:
    role = host_role(appt.kind)
    capabilities = room_capabilities(deps, appt)
    need = deps.need(role, with_room=appt.room_id is not None, room_capabilities=capabilities)
    return None if appt.room_id is not None and not need.rooms else need


async def _rules(conn: asyncpg.Connection, deps: Deps, appt: Appointment, now: datetime) -> Allowed:
    """The reschedule rules for ``appt`` as a test of a start: dose cadence, integration window."""
    if appt.kind is AppointmentKind.DOSING:
        plan = await courses.load_plan(conn, appt.course_id)
        protocol, number, zone = (
            deps.protocol(appt.protocol_version),
            appt.dose_number or 1,
            deps.clinic.time_zone,
        )

        def keeps_cadence(start: datetime) -> bool:
            return spacing_violation(protocol, number, start, plan.last_dose_at, plan.dose_days, zone) is None

        return keeps_cadence
    if appt.kind is AppointmentKind.INTEGRATION and appt.follows_session_id:
        window = booking.window_of(await sessions.get(conn, session_id=appt.follows_session_id))
        duration = appt.ends_at - appt.starts_at

        def inside_window(start: datetime) -> bool:
            try:
                check_integration_time(window, start, duration, now)
            except RuleViolation:
                return False
            return True

        return inside_window
    return _always


def _always(_start: datetime) -> bool:
    return True


def _displaced(appt: Appointment, cause: ClinicChange, now: datetime) -> AppointmentDisplaced:
    return AppointmentDisplaced(
        **appt.event_fields(), starts_at=appt.starts_at, cause=cause, displaced_at=now
    )
