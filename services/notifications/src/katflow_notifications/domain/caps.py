"""Frequency caps for automated patient texts, counted in the recipient's local calendar days."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``per_day`` on one local day and ``per_week`` in the seven local days ending today."""

    per_day: int
    per_week: int

    def allows(self, sent: Sequence[datetime], now: datetime, zone: str) -> bool:
        tz = ZoneInfo(zone)
        today = now.astimezone(tz).date()
        week_start = today - timedelta(days=6)
        days = [s.astimezone(tz).date() for s in sent]
        on_day = sum(1 for d in days if d == today)
        in_week = sum(1 for d in days if week_start <= d <= today)
        return on_day < self.per_day and in_week < self.per_week
