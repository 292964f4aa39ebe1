"""Quiet hours in the recipient's own time zone, safe across daylight-saving changes.

Instants are UTC ``datetime``s; only the decision "is it quiet there now, and when does it end" is
made in local time (zoneinfo). A local opening time that does not exist on a spring-forward day
opens at the transition; one that exists twice on a fall-back day opens at its first occurrence
after the instant; a window that falls wholly in a gap (quiet 00:01–00:00 where the clocks jump
from 00:00 to 01:00) opens the next day. Deferring therefore never moves a message backwards, into
quiet hours, or fires it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class QuietHours:
    """Quiet from ``start`` (inclusive) to ``end`` (exclusive), local wall-clock times.

    ``start > end`` wraps midnight (21:00–08:00, the default); ``start == end`` disables it.
    """

    start: time
    end: time

    @classmethod
    def parse(cls, start: str, end: str) -> QuietHours:
        return cls(time.fromisoformat(start), time.fromisoformat(end))

    def contains(self, instant: datetime, zone: str) -> bool:
        local = instant.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def defer(self, instant: datetime, zone: str) -> datetime:
        """``instant`` itself when it is not quiet, else the first instant the window opens (UTC)."""
        if not self.contains(instant, zone):
            return instant
        tz = ZoneInfo(zone)
        local = instant.astimezone(tz)
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        opens = first_local_occurrence(day, self.end, tz, not_before=instant)
        while self.contains(opens, zone):  # that day's open window fell wholly in a spring-forward gap
            day += timedelta(days=1)
            opens = first_local_occurrence(day, self.end, tz, not_before=instant)
        return opens


def first_local_occurrence(day: date, at: time, tz: ZoneInfo, not_before: datetime) -> datetime:
    """The first UTC instant ≥ ``not_before`` at which the clock in ``tz`` reads ``day at``."""
    wall = datetime.combine(day, at)
    candidates = sorted(
        utc
        for fold in (0, 1)
        if _exists(utc := wall.replace(tzinfo=tz, fold=fold).astimezone(UTC), wall, tz) and utc >= not_before
    )
    if candidates:
        return candidates[0]
    return _gap_end(wall, tz)


def _exists(utc: datetime, wall: datetime, tz: ZoneInfo) -> bool:
    return utc.astimezone(tz).replace(tzinfo=None) == wall


def _gap_end(wall: datetime, tz: ZoneInfo) -> datetime:
    """``wall`` falls in a spring-forward gap: the transition instant (first local time after it)."""
    a = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    b = int(wall.replace(tzinfo=tz, fold=0).astimezone(UTC).timestamp())
    low, high = min(a, b), max(a, b)  # local(low) < wall <= local(high)
    while high - low > 1:
        mid = (low + high) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= wall:
            high = mid
        else:
            low = mid
    return datetime.fromtimestamp(high, UTC)
