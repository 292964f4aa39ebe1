"""Reserving people and rooms: pure rules, no I/O.

A booking needs one qualified clinician and, for dosing, one room, both free for the whole reserved
window (check-in plus monitoring). Searching walks the clinic's slot grid in its time zone and
skips starts outside the patient's local hours. A watermark remembers how far the grid is known to
be full, so a busy calendar is not walked from the start on every booking.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .clinic import WEEKDAYS, ClinicConfig
from .slots import Calendar, Interval, candidate_starts, within_patient_hours

Busy = Mapping[str, Sequence[Interval]]


@dataclass(frozen=True)
class Need:
    """Who and what an appointment needs: one of ``clinicians`` and, if any listed, one of ``rooms``."""

    clinicians: tuple[str, ...]
    rooms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reservation:
    clinician_id: str
    room_id: str | None
    start: datetime
    end: datetime


def _ordered(ids: Sequence[str], prefer: str | None) -> list[str]:
    return sorted(ids, key=lambda i: i != prefer)


Works = Callable[[str, datetime, datetime], bool]
Calendars = Mapping[str, Calendar]
_EMPTY = Calendar(())


def calendars(busy: Busy) -> dict[str, Calendar]:
    """Each resource's bookings indexed once, for many ``is_free`` questions."""
    return {resource: Calendar(intervals) for resource, intervals in busy.items()}


def _pick(
    need: Need, cals: Calendars, wanted: Interval, prefer: tuple[str | None, str | None], works: Works | None
) -> tuple[str, str | None] | None:
    ordered = _ordered(need.clinicians, prefer[0])
    working = (c for c in ordered if works is None or works(c, wanted.start, wanted.end))
    clinician = next((c for c in working if cals.get(c, _EMPTY).is_free(wanted)), None)
    if clinician is None:
        return None
    if not need.rooms:
        return clinician, None
    rooms = _ordered(need.rooms, prefer[1])
    room = next((r for r in rooms if cals.get(r, _EMPTY).is_free(wanted)), None)
    return (clinician, room) if room else None


def free_resources(
    need: Need,
    busy: Busy,
    wanted: Interval,
    prefer: tuple[str | None, str | None] = (None, None),
    works: Works | None = None,
) -> tuple[str, str | None] | None:
    """A free clinician working then (and a free room, if needed) for ``wanted``; preferred ones first."""
    return _pick(need, calendars(busy), wanted, prefer, works)


def first_reservation(
    clinic: ClinicConfig,
    need: Need,
    busy: Busy,
    earliest: datetime,
    duration: timedelta,
    patient_zone: str,
    latest_end: datetime | None = None,
    resume_at: datetime | None = None,
    allowed: Callable[[datetime], bool] | None = None,
    prefer: tuple[str | None, str | None] = (None, None),
) -> Reservation | None:
    """The first start on the grid from ``earliest`` (or from ``resume_at``, when a watermark proved the
    grid full until then) with everything free, ending by ``latest_end``; only starts ``allowed``
    accepts (the rules of an appointment being moved: cadence, integration window), preferred
    clinician and room first."""
    cals = calendars(busy)
    for start in candidate_starts(clinic, earliest, duration, resume_at):
        end = start + duration
        if latest_end is not None and end > latest_end:
            return None
        if not within_patient_hours(clinic, start, end, patient_zone):
            continue
        if allowed is not None and not allowed(start):
            continue
        found = _pick(need, cals, Interval(start, end), prefer, clinic.works)
        if found is not None:
            return Reservation(found[0], found[1], start, end)
    return None


def free_days(
    clinic: ClinicConfig,
    need: Need,
    busy: Busy,
    earliest: datetime,
    duration: timedelta,
    patient_zone: str,
) -> set[date]:
    """The days (clinic's zone) from ``earliest`` to the booking horizon on which ``first_reservation``
    would find a start: open, inside the patient's hours, a qualified clinician working and free and,
    if needed, a room free for the whole ``duration``."""
    cals, zone, days = calendars(busy), ZoneInfo(clinic.time_zone), set[date]()
    for start in candidate_starts(clinic, earliest, duration):
        day = start.astimezone(zone).date()
        if day in days or not within_patient_hours(clinic, start, start + duration, patient_zone):
            continue
        if _pick(need, cals, Interval(start, start + duration), (None, None), clinic.works) is not None:
            days.add(day)
    return days


@dataclass(frozen=True)
class Watermark:
    """What an earlier search proved for one need: no grid start in [searched_from, full_until) can
    host it (every qualified clinician or room busy, or not working), for any patient. Valid while
    nothing reserved has been freed since (scheduling bumps a generation when something is)."""

    searched_from: datetime
    full_until: datetime

    def resume_at(self, earliest: datetime) -> datetime:
        """Where a search from ``earliest`` can start without missing a free slot."""
        return self.full_until if self.searched_from <= earliest < self.full_until else earliest


def advance(
    mark: Watermark | None, clinic: ClinicConfig, earliest: datetime, found: Reservation, patient_zone: str
) -> Watermark:
    """The watermark after a search from ``earliest`` (resumed where ``mark`` allowed) found ``found``.
    Starts skipped only because of this patient's local hours are not proven full for everyone: the
    proof stops at the first of them."""
    start = mark.resume_at(earliest) if mark is not None else earliest
    duration = found.end - found.start
    skipped = (
        s
        for s in candidate_starts(clinic, earliest, duration, start)
        if s >= found.start or not within_patient_hours(clinic, s, s + duration, patient_zone)
    )
    full_until = min(next(skipped, found.start), found.start)
    if mark is not None and start != earliest:  # resumed: the proof continues the earlier one
        return Watermark(mark.searched_from, full_until)
    if mark is not None and earliest <= mark.searched_from <= full_until:  # the two proofs touch
        return Watermark(earliest, max(full_until, mark.full_until))
    return Watermark(earliest, full_until)


def outside_hours(clinic: ClinicConfig, start: datetime, end: datetime, patient_zone: str) -> str | None:
    """The rule a requested time breaks (a closed day, opening hours, patient's local hours), or None."""
    local_start = start.astimezone(ZoneInfo(clinic.time_zone))
    local_end = end.astimezone(ZoneInfo(clinic.time_zone))
    if clinic.closed_on(local_start.date()):
        return "clinic_closed"
    hours = clinic.opening_hours.get(WEEKDAYS[local_start.weekday()])
    if hours is None or local_start.date() != local_end.date():
        return "outside_opening_hours"
    if not (hours[0] <= local_start.time() and local_end.time() <= hours[1]):
        return "outside_opening_hours"
    if not within_patient_hours(clinic, start, end, patient_zone):
        return "outside_patient_hours"
    return None


def still_holds(
    clinic: ClinicConfig,
    role: str,
    clinician_id: str,
    start: datetime,
    end: datetime,
    room_id: str | None = None,
    room_capabilities: Collection[str] = (),
) -> bool:
    """Whether an appointment booked for ``role`` with ``clinician_id`` (and ``room_id``, if any) at
    [start, end) still fits the clinic: open then (not closed, inside opening hours), the clinician
    still has the role and works then (weekly hours, time off), and the room still has every one of
    ``room_capabilities``."""
    if outside_hours(clinic, start, end, clinic.time_zone) in ("clinic_closed", "outside_opening_hours"):
        return False
    if room_id is not None and all(r.id != room_id for r in clinic.rooms_with(room_capabilities)):
        return False
    qualified = any(c.id == clinician_id for c in clinic.clinicians_for(role))
    return qualified and clinic.works(clinician_id, start, end)
