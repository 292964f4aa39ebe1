"""Reminder times: UTC from the start, out of quiet hours in the patient's zone, never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from katflow_notifications.bootstrap import reminder_policy
from katflow_notifications.domain.quiet_hours import QuietHours
from katflow_notifications.domain.reminders import plan_reminders, plan_surveys
from katflow_notifications.settings import NotificationsSettings
from katflow_shared.contracts.common import AppointmentKind

POLICY = reminder_policy(NotificationsSettings())
CHICAGO = "America/Chicago"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def _plan(start: datetime, kind: AppointmentKind = AppointmentKind.CONSULTATION, now: datetime = LONG_AGO):
    return {p.notification: p.due_at for p in plan_reminders(start, kind, CHICAGO, now, POLICY)}


def test_24h_and_2h_before_in_daytime() -> None:
    start = datetime(2024, 6, 12, 19, 0, tzinfo=UTC)  # 14:00 CDT
    assert _plan(start) == {
        "appointment_reminder_24h": start - timedelta(hours=24),
        "appointment_reminder_2h": start - timedelta(hours=2),
    }


def test_dosing_adds_the_plan_ahead_reminder_48h_before() -> None:
    start = datetime(2024, 6, 12, 19, 0, tzinfo=UTC)
    assert _plan(start, AppointmentKind.DOSING)["plan_ahead"] == start - timedelta(hours=48)


def test_reminders_in_quiet_hours_wait_for_0800_local_across_spring_forward() -> None:
    # 08:30 CDT on 2024-03-10, the morning clocks went forward: 2 h before is 06:30 CDT (quiet) →
    # 08:00 CDT (13:00 UTC); 24 h before is 07:30 CST on the 9th (quiet) → 08:00 CST (14:00 UTC).
    start = datetime(2024, 3, 10, 13, 30, tzinfo=UTC)
    assert _plan(start) == {
        "appointment_reminder_24h": datetime(2024, 3, 9, 14, 0, tzinfo=UTC),
        "appointment_reminder_2h": datetime(2024, 3, 10, 13, 0, tzinfo=UTC),
    }


def test_reminder_pushed_past_the_start_is_dropped() -> None:
    start = datetime(2024, 6, 12, 12, 45, tzinfo=UTC)  # 07:45 CDT: 2 h before is quiet, 08:00 is too late
    assert set(_plan(start)) == {"appointment_reminder_24h"}


def test_reminders_already_due_at_booking_are_skipped() -> None:
    start = datetime(2024, 6, 12, 19, 0, tzinfo=UTC)
    booked = start - timedelta(hours=23)
    assert set(_plan(start, now=booked)) == {"appointment_reminder_2h"}


def test_reminder_too_soon_after_booking_is_skipped() -> None:
    start = datetime(2024, 6, 12, 19, 0, tzinfo=UTC)
    booked = start - timedelta(hours=24, minutes=30)  # the 24 h reminder would follow in 30 minutes
    assert set(_plan(start, now=booked)) == {"appointment_reminder_2h"}


def test_surveys_at_course_end_and_1_3_6_months_outside_quiet_hours() -> None:
    quiet = QuietHours.parse("21:00", "08:00")
    done = datetime(2024, 6, 12, 3, 0, tzinfo=UTC)  # 22:00 CDT
    offsets = [timedelta(days=d) for d in (0, 30, 91, 182)]
    surveys = plan_surveys(done, offsets, CHICAGO, quiet)
    assert [n for n, _ in surveys] == [0, 1, 2, 3]
    assert surveys[0][1] == datetime(2024, 6, 12, 13, 0, tzinfo=UTC)
    assert all(not quiet.contains(due, CHICAGO) for _, due in surveys)


ZONES = st.sampled_from(["America/Chicago", "America/New_York", "Europe/London", "Australia/Sydney"])
STARTS = st.datetimes(datetime(2024, 1, 1), datetime(2026, 12, 31)).map(lambda d: d.replace(tzinfo=UTC))


@settings(max_examples=300, deadline=None)
@given(STARTS, ZONES, st.sampled_from(list(AppointmentKind)))
def test_plan_is_distinct_ordered_quiet_free_and_before_the_start(
    start: datetime, zone: str, kind: AppointmentKind
) -> None:
    planned = plan_reminders(start, kind, zone, LONG_AGO, POLICY)
    dues = [p.due_at for p in planned]
    assert dues == sorted(set(dues))  # never two at the same instant
    assert len({p.notification for p in planned}) == len(planned)  # one of each kind at most
    for p in planned:
        assert p.due_at >= p.nominal_at
        assert p.due_at <= start - POLICY.latest_before_start
        assert not POLICY.quiet.contains(p.due_at, zone)


@settings(max_examples=200, deadline=None)
@given(STARTS, ZONES)
def test_planning_again_gives_the_same_plan(start: datetime, zone: str) -> None:
    """A redelivered or replayed booking plans identical timers (so the keyed upsert cannot duplicate)."""
    first = plan_reminders(start, AppointmentKind.DOSING, zone, LONG_AGO, POLICY)
    assert plan_reminders(start, AppointmentKind.DOSING, zone, LONG_AGO, POLICY) == first
