"""Finding the first free slot: pure rules, no I/O."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .clinic import WEEKDAYS, ClinicConfig


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Slot:
    clinician_id: str
    start: datetime
    end: datetime


def candidate_starts(clinic: ClinicConfig, earliest: datetime, duration: timedelta) -> Iterator[datetime]:
    """Slot starts inside opening hours (clinic's zone), from ``earliest`` to the horizon."""
    zone = ZoneInfo(clinic.time_zone)
    step = timedelta(minutes=clinic.slot_minutes)
    local = earliest.astimezone(zone)
    for day_offset in range(clinic.booking_horizon_days + 1):
        day = (local + timedelta(days=day_offset)).date()
        hours = clinic.opening_hours.get(WEEKDAYS[day.weekday()])
        if hours is None:
            continue
        start = datetime.combine(day, hours[0], zone)
        close = datetime.combine(day, hours[1], zone)
        while start + duration <= close:
            if start >= earliest:
                yield start
            start += step


def within_patient_hours(clinic: ClinicConfig, start: datetime, end: datetime, patient_zone: str) -> bool:
    zone = ZoneInfo(patient_zone)
    first, last = clinic.patient_local_hours
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    return local_start.date() == local_end.date() and first <= local_start.time() and local_end.time() <= last


class Calendar:
    """One resource's bookings, sorted, answering 'is this interval free?' in O(log n)."""

    def __init__(self, busy: Sequence[Interval]) -> None:
        self.busy = sorted(busy, key=lambda b: b.start)
        self.starts = [b.start for b in self.busy]
        self.max_len = max((b.end - b.start for b in self.busy), default=timedelta(0))

    def is_free(self, wanted: Interval) -> bool:
        # Only bookings starting in (wanted.start - longest booking, wanted.end) can overlap.
        lo = bisect_left(self.starts, wanted.start - self.max_len)
        hi = bisect_left(self.starts, wanted.end)
        return not any(wanted.overlaps(b) for b in self.busy[lo:hi])


def first_free_slot(
    clinic: ClinicConfig,
    clinician_ids: Sequence[str],
    busy: Mapping[str, Sequence[Interval]],
    earliest: datetime,
    duration: timedelta,
    patient_zone: str,
) -> Slot | None:
    calendars = {c: Calendar(busy.get(c, ())) for c in clinician_ids}
    for start in candidate_starts(clinic, earliest, duration):
        end = start + duration
        if not within_patient_hours(clinic, start, end, patient_zone):
            continue
        wanted = Interval(start, end)
        for clinician in clinician_ids:
            if calendars[clinician].is_free(wanted):
                return Slot(clinician, start, end)
    return None
