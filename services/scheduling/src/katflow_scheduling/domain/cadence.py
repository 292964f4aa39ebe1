"""Series cadence: when the next dose may be, and never two doses on one day (clinic's calendar)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import Protocol


def dose_day(at: datetime, zone: str) -> date:
    """The calendar day of a dose in the clinic's zone."""
    return at.astimezone(ZoneInfo(zone)).date()


def earliest_dose_start(
    protocol: Protocol, dose_number: int, previous_dose_at: datetime | None, zone: str
) -> datetime | None:
    """Start of the first day dose ``dose_number`` may be given (None: no earlier dose)."""
    if previous_dose_at is None or dose_number <= 1:
        return None
    gap = protocol.phase_for(dose_number).min_days_between
    day = dose_day(previous_dose_at, zone) + timedelta(days=gap)
    return datetime.combine(day, time(0), ZoneInfo(zone))


def spacing_violation(
    protocol: Protocol,
    dose_number: int,
    start: datetime,
    previous_dose_at: datetime | None,
    dose_days: Collection[date],
    zone: str,
) -> str | None:
    """The cadence rule a dose at ``start`` breaks, or None."""
    if dose_number > protocol.total_doses:
        return "course_doses_exhausted"
    if dose_day(start, zone) in dose_days:
        return "one_dose_per_day"
    earliest = earliest_dose_start(protocol, dose_number, previous_dose_at, zone)
    if earliest is not None and start < earliest:
        return "dose_spacing"
    return None


def require_future(start: datetime, now: datetime) -> None:
    """A requested start (staff booking at a time, or a reschedule) is not in the past."""
    if start < now:
        raise RuleViolation(["starts_at"], "starts_in_past", "choose a time in the future")


def check_dose_cadence(
    protocol: Protocol,
    dose_number: int,
    start: datetime,
    previous_dose_at: datetime | None,
    dose_days: Collection[date],
    zone: str,
) -> None:
    """A dose requested at ``start`` keeps the protocol's spacing (422 with the rule otherwise)."""
    rule = spacing_violation(protocol, dose_number, start, previous_dose_at, dose_days, zone)
    if rule is not None:
        raise RuleViolation(["starts_at"], rule, f"dose {dose_number} breaks the cadence of {protocol.id}")
