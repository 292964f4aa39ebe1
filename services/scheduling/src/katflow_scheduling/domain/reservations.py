"""Reserving people and rooms: pure rules, no I/O.

A booking needs one qualified clinician and, for dosing, one room, both free for the whole reserved
window (check-in plus monitoring). Searching walks the clinic's slot grid in its time zone and
skips starts outside the patient's local hours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .clinic import WEEKDAYS, ClinicConfig
from .slots import Interval, candidate_starts, within_patient_hours

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


def _free(busy: Sequence[Interval], wanted: Interval) -> bool:
    return not any(wanted.overlaps(b) for b in busy)


def _ordered(ids: Sequence[str], prefer: str | None) -> list[str]:
    return sorted(ids, key=lambda i: i != prefer)


Works = Callable[[str, datetime, datetime], bool]


def free_resources(
    need: Need,
    busy: Busy,
    wanted: Interval,
    prefer: tuple[str | None, str | None] = (None, None),
    works: Works | None = None,
) -> tuple[str, str | None] | None:
    """A free clinician working then (and a free room, if needed) for ``wanted``; preferred ones first."""
    ordered = _ordered(need.clinicians, prefer[0])
    working = [c for c in ordered if works is None or works(c, wanted.start, wanted.end)]
    clinician = next((c for c in working if _free(busy.get(c, ()), wanted)), None)
    if clinician is None:
        return None
    if not need.rooms:
        return clinician, None
    room = next((r for r in _ordered(need.rooms, prefer[1]) if _free(busy.get(r, ()), wanted)), None)
    return (clinician, room) if room else None


def first_reservation(
    clinic: ClinicConfig,
    need: Need,
    busy: Busy,
    earliest: datetime,
    duration: timedelta,
    patient_zone: str,
    latest_end: datetime | None = None,
) -> Reservation | None:
    """The first start on the grid from ``earliest`` with everything free (ending by ``latest_end``)."""
    for start in candidate_starts(clinic, earliest, duration):
        end = start + duration
        if latest_end is not None and end > latest_end:
            return None
        if not within_patient_hours(clinic, start, end, patient_zone):
            continue
        found = free_resources(need, busy, Interval(start, end), works=clinic.works)
        if found is not None:
            return Reservation(found[0], found[1], start, end)
    return None


def outside_hours(clinic: ClinicConfig, start: datetime, end: datetime, patient_zone: str) -> str | None:
    """The rule a requested time breaks (opening hours, patient's local hours), or None."""
    local_start = start.astimezone(ZoneInfo(clinic.time_zone))
    local_end = end.astimezone(ZoneInfo(clinic.time_zone))
    hours = clinic.opening_hours.get(WEEKDAYS[local_start.weekday()])
    if hours is None or local_start.date() != local_end.date():
        return "outside_opening_hours"
    if not (hours[0] <= local_start.time() and local_end.time() <= hours[1]):
        return "outside_opening_hours"
    if not within_patient_hours(clinic, start, end, patient_zone):
        return "outside_patient_hours"
    return None
