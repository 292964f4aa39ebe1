"""When reminders fall due: computed in UTC from the appointment start, deferred out of the
patient's quiet hours in the patient's zone, and never two for the same instant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from katflow_shared.contracts.common import AppointmentKind

from .quiet_hours import QuietHours


@dataclass(frozen=True)
class ReminderRule:
    notification: str
    before: timedelta
    kinds: frozenset[AppointmentKind] | None = None  # None: every appointment kind


@dataclass(frozen=True)
class ReminderPolicy:
    rules: Sequence[ReminderRule]
    quiet: QuietHours
    min_notice: timedelta  # a reminder due sooner than this after booking adds nothing
    latest_before_start: timedelta  # a reminder deferred later than this before the start is dropped


@dataclass(frozen=True)
class PlannedReminder:
    notification: str
    nominal_at: datetime
    due_at: datetime


def plan_reminders(
    starts_at: datetime, kind: AppointmentKind, zone: str, now: datetime, policy: ReminderPolicy
) -> list[PlannedReminder]:
    """The reminders to schedule for an appointment, earliest first, at distinct instants."""
    planned: dict[datetime, PlannedReminder] = {}
    for rule in sorted(policy.rules, key=lambda r: r.before):  # closest to the start wins a tie
        if rule.kinds is not None and kind not in rule.kinds:
            continue
        nominal = starts_at - rule.before
        due = policy.quiet.defer(nominal, zone)
        if due > starts_at - policy.latest_before_start or due < now + policy.min_notice:
            continue
        planned.setdefault(due, PlannedReminder(rule.notification, nominal, due))
    return sorted(planned.values(), key=lambda p: p.due_at)


def plan_surveys(
    completed_at: datetime, offsets: Sequence[timedelta], zone: str, quiet: QuietHours
) -> list[tuple[int, datetime]]:
    """Outcome surveys after the course (at its end, then 1, 3 and 6 months by default)."""
    return [(n, quiet.defer(completed_at + offset, zone)) for n, offset in enumerate(offsets)]
