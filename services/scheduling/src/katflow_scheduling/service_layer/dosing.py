"""Booking the course's next dose on the day its series plan has for it.

When a dosing phase starts (or a dose's planned day can no longer be reached), the phase's remaining
doses are planned (``domain.series``); each dose is then booked one at a time — after its integration
where the protocol waits for it — on its planned day when that day is still free, else on the nearest
free day. A dose booked more than the phase's ``max_days_between`` after the previous one emits
``CadenceStretched``, and the doses after a dose booked off its planned day are planned again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from katflow_shared.contracts import CadenceStretched
from katflow_shared.contracts.common import AppointmentKind
from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import Protocol
from katflow_shared.unit_of_work import UnitOfWork

from ..adapters import postgres_calendar as calendar
from ..adapters import postgres_plans as plans
from ..domain.cadence import check_dose_cadence, dose_day, earliest_dose_start, require_future
from ..domain.course import CoursePlan, require_dosing_open
from ..domain.reservations import Need, Reservation, free_days
from ..domain.series import day_bounds, phase_doses, plan_days, stretch, windows
from .booking import Request, book
from .deps import Deps


async def book_dose(
    uow: UnitOfWork,
    deps: Deps,
    plan: CoursePlan,
    cause: str | None = None,
    at: datetime | None = None,
) -> Reservation | None:
    """Book the course's next dose on its planned day (or the nearest free one, or ``at``); None when
    nothing is free inside the booking horizon."""
    protocol = deps.protocol_of(plan)
    require_dosing_open(plan, protocol)
    if protocol.dosing.requires_rems_certified_site and not deps.clinic.rems_certified:
        raise RuleViolation(["course_id"], "rems_certified_site", "this site is not REMS-certified", 409)
    conn, number, zone, now = uow.conn, plan.doses_given + 1, deps.clinic.time_zone, uow.now
    if at is not None:
        require_future(at, now)
        check_dose_cadence(protocol, number, at, plan.last_dose_at, plan.dose_days, zone)
    cadence = earliest_dose_start(protocol, number, plan.last_dose_at, zone)
    earliest = max(now + timedelta(hours=deps.clinic.booking_lead_hours), cadence or now)
    fields = {
        "course_id": plan.id,
        "kind": AppointmentKind.DOSING.value,
        "dose_number": number,
        "protocol_version": protocol.id,
        "cause_event": cause,
    }
    duration = timedelta(minutes=protocol.dosing.reserved_minutes)
    req = Request(fields, deps.need("dosing", with_room=True), duration, earliest, at=at)
    req = replace(req, grace_minutes=protocol.no_show_grace_minutes)
    if at is None:
        planned, target = await _planned(uow, deps, plan, protocol, number, earliest)
    else:  # staff chose the time: the plan still says what was planned
        planned, target = (await plans.planned_days(conn, plan.id)).get(number), None
    found = None
    if target is not None:
        day_start, day_end = day_bounds(target, zone)
        found = await book(
            uow, deps, plan, replace(req, earliest=max(earliest, day_start), latest_end=day_end)
        )
    found = found or await book(uow, deps, plan, req)
    if found is not None:
        booked = dose_day(found.start, zone)
        if booked != target and number + 1 in phase_doses(protocol, number):
            await plan_phase(uow, deps, plan, protocol, number + 1, _midnight_after(booked, zone), booked)
        _report_stretch(uow, plan, protocol, req, planned, booked, zone)
    return found


async def _planned(
    uow: UnitOfWork,
    deps: Deps,
    plan: CoursePlan,
    protocol: Protocol,
    number: int,
    earliest: datetime,
) -> tuple[date | None, date | None]:
    """The dose's planned day as it stood, and the day to book it on: that day while it can still be
    reached, else the first day of the phase's doses planned again from ``earliest``."""
    zone = deps.clinic.time_zone
    stored = (await plans.planned_days(uow.conn, plan.id)).get(number)
    if stored is not None and stored >= dose_day(earliest, zone):
        return stored, stored
    previous = dose_day(plan.last_dose_at, zone) if plan.last_dose_at else None
    fresh = (await plan_phase(uow, deps, plan, protocol, number, earliest, previous)).get(number)
    return stored or fresh, fresh


async def plan_phase(
    uow: UnitOfWork,
    deps: Deps,
    plan: CoursePlan,
    protocol: Protocol,
    first: int,
    earliest: datetime,
    previous: date | None,
) -> dict[int, date]:
    """Plan doses ``first``.. to the end of their phase on the days the calendar can host them, and
    save the plan."""
    clinic, doses = deps.clinic, phase_doses(protocol, first)
    need, duration = _need(deps, protocol), timedelta(minutes=protocol.dosing.reserved_minutes)
    until = earliest + timedelta(days=clinic.booking_horizon_days + 1)
    busy = await calendar.busy(uow.conn, [*need.clinicians, *need.rooms], earliest, until)
    bookable = (
        free_days(clinic, need, busy, earliest, duration, plan.patient_time_zone) if need.rooms else set()
    )
    bookable -= plan.dose_days  # no room has what the protocol needs: nothing to plan on
    gaps = windows(protocol, doses.start, doses.stop - 1)
    days = dict(
        zip(doses, plan_days(bookable, gaps, dose_day(earliest, clinic.time_zone), previous), strict=False)
    )
    await plans.save(uow.conn, plan.id, protocol.phase_for(first).name, days, uow.now)
    return days


def _report_stretch(
    uow: UnitOfWork,
    plan: CoursePlan,
    protocol: Protocol,
    req: Request,
    planned: date | None,
    booked: date,
    zone: str,
) -> None:
    """CadenceStretched when the dose was booked later than its window allows."""
    number = plan.doses_given + 1
    previous = dose_day(plan.last_dose_at, zone) if plan.last_dose_at else None
    window = windows(protocol, number, number)[0]
    found = stretch(window, previous, booked, dose_day(req.earliest, zone), requested=req.at is not None)
    if found is None:
        return
    uow.emit(
        CadenceStretched(
            **plan.event_fields(),
            appointment_id=req.appointment_id,
            dose_number=number,
            planned_day=planned,
            booked_day=booked,
            gap_days=found.gap_days,
            max_days_between=found.max_days,
            reason=found.reason,
        )
    )


def _need(deps: Deps, protocol: Protocol) -> Need:
    """For planning: a dosing clinician and a room with every capability the protocol asks for (the
    booking itself narrows its need the same way under the calendar lock, ``booking.current_need``)."""
    return deps.need("dosing", with_room=True, room_capabilities=tuple(protocol.dosing.room_capabilities))


def _midnight_after(day: date, zone: str) -> datetime:
    return day_bounds(day, zone)[1]
