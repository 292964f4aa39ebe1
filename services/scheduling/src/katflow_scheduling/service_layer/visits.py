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
from katflow_shared.treatment_protocols import Protocol
from katflow_shared.unit_of_work import UnitOfWork, Units

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_calendar as calendar
from ..adapters import postgres_sessions as sessions
from ..domain import timer_keys
from ..domain.appointments import Appointment, Status, check_in_allowed, complete_allowed, require
from ..domain.cadence import dose_day, spacing_violation
from ..domain.course import CoursePlan, require_dose_now
from ..domain.integration import Window, integration_window, monitoring_end
from ..domain.visits import Discharge, Dose, DosingCheckIn, check_discharge, check_dosing_check_in
from . import steps
from .deps import Deps
from .unit import appointment_unit


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
    units: Units, deps: Deps, appointment_id: UUID, dosing: DosingCheckIn | None, by: str
) -> StatusChanged:
    """``dosing``: the pre-dose checks a dosing check-in records (refused without them)."""
    async with appointment_unit(units, appointment_id) as (uow, plan, appt):
        check_in_allowed(appt, uow.now)
        if appt.kind is AppointmentKind.DOSING:
            protocol = _dose_allowed(deps, plan, appt, uow.now)
            check_dosing_check_in(dosing, protocol, deps.clinic.rems_certified)
        details = {"dosing": dosing.model_dump(mode="json") if dosing else None, "checked_in_by": by}
        await appointments.check_in(uow.conn, appt.id, details, uow.now)
        await timers.cancel(uow.conn, timer_keys.appointment(plan.id, appt.id), timer_keys.NO_SHOW)
    return StatusChanged(appointment_id, Status.CHECKED_IN.value)


def _dose_allowed(deps: Deps, plan: CoursePlan, appt: Appointment, now: datetime) -> Protocol:
    protocol, number = deps.protocol(appt.protocol_version), appt.dose_number or 1
    zone = deps.clinic.time_zone
    rule = spacing_violation(protocol, number, now, plan.last_dose_at, plan.dose_days, zone)
    require_dose_now(plan, protocol, number, rule)
    return protocol


async def administer(units: Units, deps: Deps, appointment_id: UUID, dose: Dose, by: str) -> Administered:
    async with appointment_unit(units, appointment_id) as (uow, plan, appt):
        _require_dosing(appt)
        require(appt, Status.CHECKED_IN)
        protocol = _dose_allowed(deps, plan, appt, uow.now)
        await _hold_room_for_monitoring(uow, appt, protocol)
        session_id = uuid.uuid4()
        pre = (await appointments.check_in_details(uow.conn, appt.id))["dosing"]["blood_pressure"]
        fields = _session_fields(deps, uow.now, appt, protocol, dose, pre, by)
        await sessions.insert(uow.conn, session_id, fields)
        await appointments.set_status(uow.conn, appt.id, Status.IN_MONITORING, uow.now, None, None)
        steps.arm_monitoring(uow, appt, session_id, protocol, uow.now)
    return Administered(session_id, monitoring_end(protocol, uow.now))


def _require_dosing(appt: Appointment) -> None:
    if appt.kind is not AppointmentKind.DOSING:
        raise RuleViolation(
            ["appointment_id"], "not_a_dosing_appointment", f"this is a {appt.kind.value}", 409
        )


async def _hold_room_for_monitoring(uow: UnitOfWork, appt: Appointment, protocol: Protocol) -> None:
    """Room and clinician stay reserved for the whole monitoring window, even when dosing starts late."""
    await calendar.lock_calendar(uow.conn)  # one change to reserved time at a time (booking.book)
    try:
        async with uow.conn.transaction():
            await appointments.extend(uow.conn, appt.id, monitoring_end(protocol, uow.now))
    except asyncpg.ExclusionViolationError:
        raise RuleViolation(
            ["appointment_id"],
            "monitoring_window_not_reserved",
            "room or clinician is booked during monitoring",
            409,
        ) from None


def _session_fields(
    deps: Deps,
    now: datetime,
    appt: Appointment,
    protocol: Protocol,
    dose: Dose,
    pre: dict[str, int],
    by: str,
) -> dict[str, Any]:
    return {
        "appointment_id": appt.id,
        "course_id": appt.course_id,
        "dose_number": appt.dose_number,
        "route": protocol.route.value,
        "protocol_version": protocol.id,
        "dose_mg": dose.dose_mg,
        "dose_mg_per_kg": dose.dose_mg_per_kg,
        "dose_day": dose_day(now, deps.clinic.time_zone),
        "pre_dose_systolic": pre["systolic"],
        "pre_dose_diastolic": pre["diastolic"],
        "administered_by": by,
        "administered_at": now,
    }


async def record_session(
    units: Units, deps: Deps, appointment_id: UUID, discharge: Discharge, by: str
) -> Discharged:
    async with appointment_unit(units, appointment_id) as (uow, _, appt):
        _require_dosing(appt)
        require(appt, Status.IN_MONITORING)
        protocol = deps.protocol(appt.protocol_version)
        session = await sessions.get(uow.conn, appointment_id=appt.id)
        check_discharge(discharge, protocol, session["administered_at"], uow.now)
        window = integration_window(protocol, session["administered_at"], uow.now)
        record = discharge.model_dump(mode="json")
        await sessions.discharge(uow.conn, session["id"], record, by, window, uow.now)
        await appointments.set_status(uow.conn, appt.id, Status.COMPLETED, uow.now, None, by)
        await timers.cancel(uow.conn, timer_keys.appointment(appt.course_id, appt.id))
        uow.emit(_administered(appt, session, bool(discharge.adverse_events), uow.now))
        uow.emit(_completed(appt, uow.now))
    return Discharged(session["id"], window)


def _administered(
    appt: Appointment, session: asyncpg.Record, adverse: bool, now: datetime
) -> SessionAdministered:
    return SessionAdministered(
        session_id=session["id"],
        appointment_id=appt.id,
        course_id=appt.course_id,
        patient_id=appt.patient_id,
        route=session["route"],
        dose_number=session["dose_number"],
        protocol_version=session["protocol_version"],
        administered_at=session["administered_at"],
        monitoring_ended_at=now,
        adverse_events=adverse,
        clinician_id=appt.clinician_id,
    )


def _completed(appt: Appointment, now: datetime) -> AppointmentCompleted:
    return AppointmentCompleted(**appt.event_fields(), completed_at=now)


async def complete(units: Units, appointment_id: UUID, by: str) -> StatusChanged:
    """A consultation, preparation or integration appointment was attended."""
    async with appointment_unit(units, appointment_id) as (uow, _, appt):
        complete_allowed(appt, uow.now)
        await appointments.set_status(uow.conn, appt.id, Status.COMPLETED, uow.now, None, by)
        await timers.cancel(uow.conn, timer_keys.appointment(appt.course_id, appt.id))
        if appt.kind is AppointmentKind.INTEGRATION and appt.follows_session_id:
            await sessions.integration_held(uow.conn, appt.follows_session_id, uow.now)
            await timers.cancel(uow.conn, timer_keys.session(appt.course_id, appt.follows_session_id))
        uow.emit(_completed(appt, uow.now))
    return StatusChanged(appointment_id, Status.COMPLETED.value)
