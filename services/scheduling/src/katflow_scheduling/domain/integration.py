"""The integration window after a dose, and the monitoring prompts after administration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from katflow_shared.contracts.common import MonitoringCheck
from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import Protocol

from .cadence import require_future


@dataclass(frozen=True)
class Window:
    opens_at: datetime
    closes_at: datetime
    due_at: datetime  # when IntegrationDue fires (window opening plus the configured offset)

    def holds(self, start: datetime, end: datetime) -> bool:
        return self.opens_at <= start and end <= self.closes_at


def integration_window(protocol: Protocol, administered_at: datetime, discharged_at: datetime) -> Window:
    i = protocol.integration
    opens = discharged_at + timedelta(minutes=i.opens_after_minutes)
    closes = administered_at + timedelta(hours=i.window_hours)
    return Window(opens, closes, min(opens + timedelta(minutes=i.due_offset_minutes), closes))


def monitoring_prompts(
    protocol: Protocol, administered_at: datetime
) -> list[tuple[MonitoringCheck, datetime]]:
    """Each staff prompt (+40 min blood pressure, discharge check, ...) with its due time."""
    return [(c.check, administered_at + timedelta(minutes=c.offset_minutes)) for c in protocol.dosing.checks]


def monitoring_end(protocol: Protocol, administered_at: datetime) -> datetime:
    """The earliest discharge: administration plus the protocol's least monitoring."""
    return administered_at + timedelta(minutes=protocol.dosing.monitoring_minutes)


def check_integration_time(window: Window, start: datetime, duration: timedelta, now: datetime) -> None:
    """A requested integration start: inside the window while it is open; any future time after it."""
    require_future(start, now)
    if now < window.closes_at and not window.holds(start, start + duration):
        opens, closes = window.opens_at.isoformat(), window.closes_at.isoformat()
        raise RuleViolation(["starts_at"], "integration_window", f"book between {opens} and {closes}")
