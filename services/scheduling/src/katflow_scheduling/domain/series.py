"""Series planning: the dose days of a dosing phase, so every gap keeps the protocol's cadence (pure).

A phase of ``n`` doses with ``[min_days_between, max_days_between]`` fits the clinic when there are
``n`` bookable days (open, a qualified clinician and a room free for the whole hold) whose gaps all
lie inside the window. Twice weekly (3–4 days) on a Monday–Friday clinic gives Mon/Thu or Tue/Fri,
never Wed/Sat: a Wednesday start moves the first dose to Thursday. The plan takes the earliest first
dose from which the whole phase fits; when nothing fits, each dose goes on the nearest bookable day
and the gaps that cannot be kept are the ones ``CadenceStretched`` reports.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from katflow_shared.contracts.common import StretchReason
from katflow_shared.treatment_protocols import Protocol


@dataclass(frozen=True)
class Window:
    """Calendar days allowed between a dose and the one before it."""

    min_days: int
    max_days: int

    def days_after(self, day: date) -> list[date]:
        return [day + timedelta(days=d) for d in range(self.min_days, self.max_days + 1)]


def windows(protocol: Protocol, first: int, last: int) -> list[Window]:
    """The window before each dose ``first``..``last`` (dose numbers, 1-based)."""
    phases = (protocol.phase_for(n) for n in range(first, last + 1))
    return [Window(p.min_days_between, p.max_days_between) for p in phases]


def phase_doses(protocol: Protocol, dose_number: int) -> range:
    """Dose numbers from ``dose_number`` to the end of its cadence phase."""
    last = 0
    for phase in protocol.cadence:
        last += phase.doses
        if dose_number <= last:
            return range(dose_number, last + 1)
    return range(dose_number, dose_number)


def plan_days(
    bookable: Collection[date], gaps: Sequence[Window], earliest: date, previous: date | None
) -> list[date]:
    """One day per gap in ``gaps`` (``gaps[0]`` is the window after ``previous``, ignored without
    one): the earliest first day from which every gap fits, inside ``gaps[0]`` of ``previous`` when
    that is possible; otherwise the nearest bookable days, stretching only where nothing fits. Shorter
    than ``gaps`` only when the bookable days run out."""
    planner = _Planner(frozenset(d for d in bookable if d >= earliest), tuple(gaps))
    return planner.plan(previous)


@dataclass
class _Planner:
    free: frozenset[date]
    gaps: tuple[Window, ...]
    _fits: dict[tuple[int, date], bool] = field(default_factory=dict)

    def plan(self, previous: date | None) -> list[date]:
        ordered = sorted(self.free)
        if not self.gaps or not ordered:
            return []
        firsts = ordered if previous is None else self._inside(0, previous)
        first = next((d for d in firsts if self._rest_fits(0, d)), None)
        if first is None:  # the first dose cannot keep its gap, or the phase cannot fit from it
            first = next((d for d in ordered if self._rest_fits(0, d)), ordered[0])
        days = [first]
        for index in range(1, len(self.gaps)):
            inside = self._inside(index, days[-1])
            after = days[-1] + timedelta(days=self.gaps[index].max_days)
            nearest = inside or [d for d in ordered if d > after][:1]
            if not nearest:
                break
            days.append(next((d for d in nearest if self._rest_fits(index, d)), nearest[0]))
        return days

    def _inside(self, index: int, day: date) -> list[date]:
        return [d for d in self.gaps[index].days_after(day) if d in self.free]

    def _rest_fits(self, index: int, day: date) -> bool:
        """Whether the doses after ``index`` keep their gaps after a dose on ``day`` (memoised)."""
        if index + 1 >= len(self.gaps):
            return True
        if (index, day) not in self._fits:
            nxt = self._inside(index + 1, day)
            self._fits[index, day] = any(self._rest_fits(index + 1, d) for d in nxt)
        return self._fits[index, day]


@dataclass(frozen=True)
class Stretch:
    """A dose booked outside its window: what ``CadenceStretched`` says."""

    gap_days: int
    max_days: int
    reason: StretchReason


def stretch(
    window: Window, previous: date | None, booked: date, earliest: date, requested: bool
) -> Stretch | None:
    """The stretch of a dose booked on ``booked`` after one on ``previous`` (None when the gap is
    kept). ``earliest`` is the first day the booking could have used (lead time, cadence): past the
    window, the booking came too late; before it, no day inside the window was free."""
    if previous is None or (booked - previous).days <= window.max_days:
        return None
    last_day = previous + timedelta(days=window.max_days)
    reason = (
        StretchReason.REQUESTED_BY_STAFF
        if requested
        else StretchReason.BOOKED_AFTER_WINDOW
        if earliest > last_day
        else StretchReason.NO_FREE_DAY
    )
    return Stretch((booked - previous).days, window.max_days, reason)


def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """Midnight to midnight of ``day`` in ``zone``."""
    tz = ZoneInfo(zone)
    return datetime.combine(day, time(0), tz), datetime.combine(day + timedelta(days=1), time(0), tz)
