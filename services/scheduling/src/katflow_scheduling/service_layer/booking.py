"""Booking consultations, doses and integration sessions in the use case's unit of work: find free
people and rooms, insert, arm the no-show timer, announce. One change to reserved time at a time (the
calendar lock: bookings, moves, monitoring extensions); the exclusion constraints stay as the last
word."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from katflow_shared.contracts import AppointmentScheduled, AppointmentWaitlisted
from katflow_shared.contracts.common import AppointmentKind
from katflow_shared.db import Part
from katflow_shared.errors import RuleViolation
from katflow_shared.messaging.errors import TransientError
from katflow_shared.unit_of_work import UnitOfWork

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_calendar as calendar
from ..domain import timer_keys
from ..domain.course import CoursePlan
from ..domain.integration import Window, check_integration_time
from ..domain.reservations import (
    Need,
    Reservation,
    advance,
    first_reservation,
    free_resources,
    outside_hours,
)
from ..domain.slots import Interval
from .deps import Deps

# Bookings read per search step: a search resuming at its watermark nearly always finds a slot in the
# first days, so read those; further only if they are full.
SEARCH_WINDOWS = (timedelta(days=2), timedelta(days=14))


@dataclass(frozen=True)
class Request:
    """What to book: the appointment's fields, who it needs, how long, and where to search."""

    fields: dict[str, Any]
    need: Need
    duration: timedelta
    earliest: datetime
    latest_end: datetime | None = None
    at: datetime | None = None  # a start staff asked for, instead of searching
    grace_minutes: int = 15
    appointment_id: uuid.UUID = field(default_factory=uuid.uuid4)


async def book(uow: UnitOfWork, deps: Deps, plan: CoursePlan, req: Request) -> Reservation | None:
    """Reserve, insert and announce; None when nothing is free in the search range. Under the
    calendar lock every writer of reserved time waits its turn, so what the search found free is
    free: the appointment, the search's watermark, the no-show timer and AppointmentScheduled go
    in one statement, sent at once (``flush``, with what the unit had pending): the unit's next
    reads (another booking's search) see the appointment."""
    conn = uow.conn
    searched = await (_search(conn, deps, plan, req) if req.at is None else _at(conn, deps, plan, req))
    if searched is None:
        return None
    found, watermark = searched
    appointment_id = req.appointment_id
    uow.write([appointments.new_appointment(appointment_id, req.fields, found), *watermark])
    uow.schedule([_no_show(plan.id, appointment_id, found.start, req.grace_minutes)])
    uow.emit(_scheduled(plan, appointment_id, req.fields["kind"], found))
    try:
        await uow.flush()
    except asyncpg.ExclusionViolationError:  # reserved time changed without the lock: not by katflow
        if req.at is not None:
            raise _double_booking() from None
        raise TransientError("the slot found free was taken meanwhile") from None
    return found


def current_need(deps: Deps, req: Request) -> Need | None:
    """``req.need`` as the clinic stands now: read under the calendar lock, it counts an admin's
    change made since the need was built. Clinicians who (still) have the role; for a dose, rooms
    with every capability its protocol asks for (``dosing.room_capabilities``). None when no room
    has them: the booking waits as for a full calendar."""
    clinic, kind = deps.clinic, str(req.fields.get("kind"))
    role = "integration" if kind == AppointmentKind.PREPARATION.value else kind
    qualified = {c.id for c in clinic.clinicians if role in c.roles}
    clinicians = tuple(c for c in req.need.clinicians if c in qualified)
    version = req.fields.get("protocol_version")
    wanted = deps.protocol(version).dosing.room_capabilities if kind == "dosing" and version else []
    if not (wanted and req.need.rooms):
        return Need(clinicians, req.need.rooms)
    capable = {r.id for r in clinic.rooms_with(wanted)}
    rooms = tuple(r for r in req.need.rooms if r in capable)
    return Need(clinicians, rooms) if rooms else None


async def _search(
    conn: asyncpg.Connection, deps: Deps, plan: CoursePlan, req: Request
) -> tuple[Reservation, list[Part]] | None:
    """The first free reservation from ``req.earliest``, resuming where the need's watermark proved the
    grid full; reads the bookings of the next two days, then two weeks, then the rest, as needed.
    With it, the advanced watermark to save along with the booking. Takes the calendar lock first,
    in the round trip that reads the watermark and the first two days."""
    key = calendar.need_key(req.need, int(req.duration.total_seconds()) // 60)
    resources, zone = [*req.need.clinicians, *req.need.rooms], plan.patient_time_zone
    locked = await calendar.lock_for_search(conn, key, resources, req.earliest, SEARCH_WINDOWS[0])
    await deps.clinics.require_current(conn, locked.clinic_version)
    need = current_need(deps, req)
    if need is None:
        return None
    mark = locked.mark
    start = mark.resume_at(req.earliest) if mark else req.earliest
    for window_end in (*(start + w for w in SEARCH_WINDOWS), None):
        limit = min((t for t in (req.latest_end, window_end) if t is not None), default=None)
        if (locked.since, locked.until) == (start, window_end):
            busy = locked.busy  # read with the lock
        else:
            busy = await calendar.busy(conn, resources, start, window_end)
        found = first_reservation(deps.clinic, need, busy, req.earliest, req.duration, zone, limit, start)
        if found is not None or limit != window_end:  # found, or the request's own limit ended it
            break
    if found is None:
        return None
    mark = advance(mark, deps.clinic, req.earliest, found, zone)
    return found, [calendar.new_watermark(key, locked.generation, mark)]


async def _at(
    conn: asyncpg.Connection, deps: Deps, plan: CoursePlan, req: Request
) -> tuple[Reservation, list[Part]]:
    """The reservation staff asked for at ``req.at``, under the calendar lock: same rules, no search
    (no watermark)."""
    assert req.at is not None
    await calendar.lock_calendar(conn)
    await deps.clinics.require_current(conn)
    end = req.at + req.duration
    if rule := outside_hours(deps.clinic, req.at, end, plan.patient_time_zone):
        raise RuleViolation(["starts_at"], rule, "the requested time is outside the bookable hours")
    need = current_need(deps, req)
    if need is None:
        raise RuleViolation(["starts_at"], "no_capable_room", "no room has what the protocol requires", 409)
    return await reserve_at(conn, deps, need, Interval(req.at, end)), []


async def reserve_at(
    conn: asyncpg.Connection,
    deps: Deps,
    need: Need,
    wanted: Interval,
    prefer: tuple[str | None, str | None] = (None, None),
    exclude: uuid.UUID | None = None,
) -> Reservation:
    """Qualified people (and a room) free and working for ``wanted``, preferred ones first, ignoring
    ``exclude``'s own booking (a move); double_booking (409) when there are none."""
    await deps.clinics.require_current(conn)  # callers hold the calendar lock
    resources = [*need.clinicians, *need.rooms]
    busy = await calendar.busy(conn, resources, wanted.start, wanted.end, exclude=exclude)
    got = free_resources(need, busy, wanted, prefer, deps.clinic.works)
    if got is None:
        raise _double_booking()
    return Reservation(got[0], got[1], wanted.start, wanted.end)


def _double_booking() -> RuleViolation:
    return RuleViolation(["starts_at"], "double_booking", "no qualified clinician or room is free then", 409)


def _scheduled(
    plan: CoursePlan, appointment_id: uuid.UUID, kind: str, r: Reservation
) -> AppointmentScheduled:
    return AppointmentScheduled(
        appointment_id=appointment_id,
        **plan.event_fields(),
        kind=AppointmentKind(kind),
        clinician_id=r.clinician_id,
        room_id=r.room_id,
        starts_at=r.start,
        ends_at=r.end,
        patient_time_zone=plan.patient_time_zone,
    )


def arm_no_show(
    uow: UnitOfWork, course_id: uuid.UUID, appointment_id: uuid.UUID, start: datetime, grace: int
) -> None:
    """Create the appointment's no-show timer, or move the pending one (with the unit's writes)."""
    uow.schedule([_no_show(course_id, appointment_id, start, grace)])


def _no_show(
    course_id: uuid.UUID, appointment_id: uuid.UUID, start: datetime, grace: int
) -> tuple[str, str, datetime, dict[str, Any]]:
    key = timer_keys.appointment(course_id, appointment_id) + timer_keys.NO_SHOW
    return timer_keys.NO_SHOW, key, start + timedelta(minutes=grace), {"appointment_id": str(appointment_id)}


async def book_consultation(
    uow: UnitOfWork, deps: Deps, plan: CoursePlan, cause: str | None
) -> Reservation | None:
    """Book the first consultation with any consultation clinician; None when the calendar is full.
    ``cause`` (the event id) makes the booking idempotent."""
    clinic = deps.clinic
    req = Request(
        fields={"course_id": plan.id, "kind": AppointmentKind.CONSULTATION.value, "cause_event": cause},
        need=deps.need("consultation", with_room=False),
        duration=timedelta(minutes=clinic.consultation_minutes),
        earliest=uow.now + timedelta(hours=clinic.booking_lead_hours),
        grace_minutes=clinic.no_show_grace_minutes,
    )
    return await book(uow, deps, plan, req)


def waitlist(uow: UnitOfWork, deps: Deps, plan: CoursePlan, kind: AppointmentKind, cause: str | None) -> None:
    """Nothing free inside the booking horizon: wait for a slot. A durable timer looks again every
    ``waitlist_retry_minutes`` (``timer_actions.on_booking_retry``); AppointmentWaitlisted tells
    staff, once. A halt or end of the course cancels the wait (``steps.stop_course``)."""
    now = uow.now
    retry_at = arm_retry(uow, deps, plan.id, kind, cause, 1, now)
    dose = plan.doses_given + 1 if kind is AppointmentKind.DOSING else None
    uow.emit(
        AppointmentWaitlisted(
            **plan.event_fields(),
            kind=kind,
            dose_number=dose,
            waitlisted_at=now,
            next_attempt_at=retry_at,
        )
    )


def arm_retry(
    uow: UnitOfWork,
    deps: Deps,
    course_id: uuid.UUID,
    kind: AppointmentKind,
    cause: str | None,
    look: int,
    since: datetime,
) -> datetime:
    """Arm the waitlist's ``look``-th look, ``waitlist_retry_minutes`` from now; return when. The
    payload is also what ``GET /v1/waitlist`` shows (``since``: when the wait began)."""
    due = uow.now + timedelta(minutes=deps.clinic.waitlist_retry_minutes)
    payload = {
        "course_id": str(course_id),
        "kind": kind.value,
        "cause": cause,
        "look": look,
        "since": since.isoformat(),
    }
    uow.schedule([(timer_keys.BOOKING_RETRY, timer_keys.waitlist(course_id, look), due, payload)])
    return due


async def book_integration(
    uow: UnitOfWork,
    deps: Deps,
    plan: CoursePlan,
    session: asyncpg.Record,
    cause: str | None = None,
    at: datetime | None = None,
) -> Reservation | None:
    """Book the integration session after a dose inside its window (after the window: catch-up)."""
    protocol, window, now = deps.protocol(session["protocol_version"]), window_of(session), uow.now
    duration = timedelta(minutes=protocol.integration.session_minutes)
    if at is not None:
        check_integration_time(window, at, duration, now)
    earliest = max(window.opens_at, now + timedelta(minutes=protocol.integration.booking_lead_minutes))
    latest = None if now >= window.closes_at else window.closes_at
    fields = {
        "course_id": plan.id,
        "kind": AppointmentKind.INTEGRATION.value,
        "follows_session_id": session["id"],
    }
    fields |= {"protocol_version": protocol.id, "cause_event": cause}
    need, grace = deps.need("integration", with_room=False), protocol.no_show_grace_minutes
    return await book(uow, deps, plan, Request(fields, need, duration, earliest, latest, at, grace))


def window_of(session: asyncpg.Record) -> Window:
    return Window(
        session["integration_opens_at"], session["integration_closes_at"], session["integration_due_at"]
    )
