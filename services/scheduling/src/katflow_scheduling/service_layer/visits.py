"""Staff actions during a visit: check-in, administration, discharge (session record), completion.
Each is one unit of work (``unit.appointment_unit``) and returns what it did."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared import timers
from katflow_shared.contracts import AppointmentCompleted, SessionAdministered
from katflow_shared.contracts.common import AppointmentKind
from katflow_shared.errors import RuleViolation
from katflow_shared.runtime import Runtime
from katflow_shared.treatment_protocols import Protocol

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_calendar as calendar
from ..adapters import postgres_sessions as sessions
from ..domain import timer_keys
from ..domain.appointments import Appointment, Status, check_in_allowed, complete_allowed, require
from ..domain.cadence import dose_day, spacing_violation
from ..domain.course import require_dose_now
from ..domain.integration import Window, integration_window, monitoring_end
from ..domain.visits import Discharge, Dose, DosingCheckIn, check_discharge, check_dosing_check_in
from . import steps
from .deps import Deps
from .unit import AppointmentUnit, appointment_unit


@dataclass(frozen=True)
class StatusChanged:
    appointment_id: UUID
    status: str


@dataclass(frozen=True)
class Administered:
    session_id: UUID
    monitoring_until: datetime


@dataclass(frozen=True)
class Discharged:
    session_id: UUID
    integration_window: Window


async def check_in(
    runtime: Runtime, deps: Deps, appointment_id: UUID, dosing: DosingCheckIn | None, by: str
) -> StatusChanged:
    """``dosing``: the pre-dose checks a dosing check-in records (refused without them)."""
    async with appointment_unit(runtime, appointment_id) as u:
        check_in_allowed(u.appt, u.now)
        if u.appt.kind is AppointmentKind.DOSING:
            protocol = _dose_allowed(deps, u)
            check_dosing_check_in(dosing, protocol, deps.clinic.rems_certified)
        details = {"dosing": dosing.model_dump(mode="json") if dosing else None, "checked_in_by": by}
        await appointments.check_in(u.conn, u.appt.id, details, u.now)
        await timers.cancel(u.conn, timer_keys.appointment(u.plan.id, u.appt.id), timer_keys.NO_SHOW)
    return StatusChanged(appointment_id, Status.CHECKED_IN.value)


def _dose_allowed(deps: Deps, u: AppointmentUnit) -> Protocol:
    protocol, number = deps.protocol(u.appt.protocol_version), u.appt.dose_number or 1
    zone = deps.clinic.time_zone
    rule = spacing_violation(protocol, number, u.now, u.plan.last_dose_at, u.plan.dose_days, zone)
    require_dose_now(u.plan, protocol, number, rule)
    return protocol


async def administer(runtime: Runtime, deps: Deps, appointment_id: UUID, dose: Dose, by: str) -> Administered:
    async with appointment_unit(runtime, appointment_id) as u:
        _require_dosing(u.appt)
        require(u.appt, Status.CHECKED_IN)
        protocol = _dose_allowed(deps, u)
        await _hold_room_for_monitoring(u, protocol)
        session_id = uuid.uuid4()
        pre = (await appointments.check_in_details(u.conn, u.appt.id))["dosing"]["blood_pressure"]
        await sessions.insert(u.conn, session_id, _session_fields(deps, u, protocol, dose, pre, by))
        await appointments.set_status(u.conn, u.appt.id, Status.IN_MONITORING, u.now, None, None)
        await steps.arm_monitoring(u.conn, u.appt, session_id, protocol, u.now)
    return Administered(session_id, monitoring_end(protocol, u.now))


def _require_dosing(appt: Appointment) -> None:
    if appt.kind is not AppointmentKind.DOSING:
        raise RuleViolation(
            ["appointment_id"], "not_a_dosing_appointment", f"this is a {appt.kind.value}", 409
        )


async def _hold_room_for_monitoring(u: AppointmentUnit, protocol: Protocol) -> None:
    """Room and clinician stay reserved for the whole monitoring window, even when dosing starts late."""
    await calendar.lock_calendar(u.conn)  # one change to reserved time at a time (booking.book)
    try:
        async with u.conn.transaction():
            await appointments.extend(u.conn, u.appt.id, monitoring_end(protocol, u.now))
    except asyncpg.ExclusionViolationError:
        raise RuleViolation(
            ["appointment_id"],
            "monitoring_window_not_reserved",
            "room or clinician is booked during monitoring",
            409,
        ) from None


def _session_fields(
    deps: Deps,
    u: AppointmentUnit,
    protocol: Protocol,
    dose: Dose,
    pre: dict[str, int],
    by: str,
) -> dict[str, Any]:
    return {
        "appointment_id": u.appt.id,
        "course_id": u.plan.id,
        "dose_number": u.appt.dose_number,
        "route": protocol.route.value,
        "protocol_version": protocol.id,
        "dose_mg": dose.dose_mg,
        "dose_mg_per_kg": dose.dose_mg_per_kg,
        "dose_day": dose_day(u.now, deps.clinic.time_zone),
        "pre_dose_systolic": pre["systolic"],
        "pre_dose_diastolic": pre["diastolic"],
        "administered_by": by,
        "administered_at": u.now,
    }


async def record_session(
    runtime: Runtime, deps: Deps, appointment_id: UUID, discharge: Discharge, by: str
) -> Discharged:
    async with appointment_unit(runtime, appointment_id) as u:
        _require_dosing(u.appt)
        require(u.appt, Status.IN_MONITORING)
        protocol = deps.protocol(u.appt.protocol_version)
        session = await sessions.get(u.conn, appointment_id=u.appt.id)
        check_discharge(discharge, protocol, session["administered_at"], u.now)
        window = integration_window(protocol, session["administered_at"], u.now)
        await sessions.discharge(u.conn, session["id"], discharge.model_dump(mode="json"), by, window, u.now)
        await appointments.set_status(u.conn, u.appt.id, Status.COMPLETED, u.now, None, by)
        await timers.cancel(u.conn, timer_keys.appointment(u.plan.id, u.appt.id))
        await u.emit(_administered(u, session, bool(discharge.adverse_events)))
        await u.emit(_completed(u))
    return Discharged(session["id"], window)


def _administered(u: AppointmentUnit, session: asyncpg.Record, adverse: bool) -> SessionAdministered:
    return SessionAdministered(
        session_id=session["id"],
        appointment_id=u.appt.id,
        course_id=u.plan.id,
        patient_id=u.plan.patient_id,
        route=session["route"],
        dose_number=session["dose_number"],
        protocol_version=session["protocol_version"],
        administered_at=session["administered_at"],
        monitoring_ended_at=u.now,
        adverse_events=adverse,
        clinician_id=u.appt.clinician_id,
    )


def _completed(u: AppointmentUnit) -> AppointmentCompleted:
    return AppointmentCompleted(
        appointment_id=u.appt.id,
        course_id=u.plan.id,
        patient_id=u.plan.patient_id,
        kind=u.appt.kind,
        completed_at=u.now,
    )


async def complete(runtime: Runtime, appointment_id: UUID, by: str) -> StatusChanged:
    """A consultation, preparation or integration appointment was attended."""
    async with appointment_unit(runtime, appointment_id) as u:
        complete_allowed(u.appt, u.now)
        await appointments.set_status(u.conn, u.appt.id, Status.COMPLETED, u.now, None, by)
        await timers.cancel(u.conn, timer_keys.appointment(u.plan.id, u.appt.id))
        if u.appt.kind is AppointmentKind.INTEGRATION and u.appt.follows_session_id:
            await sessions.integration_held(u.conn, u.appt.follows_session_id, u.now)
            await timers.cancel(u.conn, timer_keys.session(u.plan.id, u.appt.follows_session_id))
        await u.emit(_completed(u))
    return StatusChanged(appointment_id, Status.COMPLETED.value)
