"""The slot grid and busy intervals: pure rules, no I/O."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
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


def candidate_starts(
    clinic: ClinicConfig, earliest: datetime, duration: timedelta, resume_at: datetime | None = None
) -> Iterator[datetime]:
    """Slot starts inside opening hours (clinic's zone), closed days skipped, from ``earliest`` (or
    the later ``resume_at``) to the booking horizon, which is counted from ``earliest``."""
    zone = ZoneInfo(clinic.time_zone)
    step = timedelta(minutes=clinic.slot_minutes)
    first = max(earliest, resume_at or earliest)
    day, last_day = first.astimezone(zone).date(), earliest.astimezone(zone).date()
    last_day += timedelta(days=clinic.booking_horizon_days)
    while day <= last_day:
        hours = clinic.opening_hours.get(WEEKDAYS[day.weekday()])
        if hours is not None and not clinic.closed_on(day):
            start = datetime.combine(day, hours[0], zone)
            close = datetime.combine(day, hours[1], zone)
            while start + duration <= close:
                if start >= first:
                    yield start
                start += step
        day += timedelta(days=1)


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
