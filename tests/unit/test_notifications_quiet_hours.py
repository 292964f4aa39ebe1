"""Quiet hours in the recipient's zone: deferral to the window's opening, DST-proof."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from katflow_notifications.domain.quiet_hours import QuietHours

QUIET = QuietHours.parse("21:00", "08:00")
CHICAGO = "America/Chicago"


def test_outside_quiet_hours_nothing_moves() -> None:
    noon = datetime(2024, 6, 3, 17, 0, tzinfo=UTC)  # 12:00 CDT
    assert QUIET.defer(noon, CHICAGO) == noon


def test_late_evening_moves_to_next_morning_local() -> None:
    late = datetime(2024, 6, 4, 3, 30, tzinfo=UTC)  # 22:30 CDT on the 3rd
    assert QUIET.defer(late, CHICAGO) == datetime(2024, 6, 4, 13, 0, tzinfo=UTC)  # 08:00 CDT on the 4th


def test_early_morning_moves_to_same_morning() -> None:
    early = datetime(2024, 6, 4, 10, 0, tzinfo=UTC)  # 05:00 CDT
    assert QUIET.defer(early, CHICAGO) == datetime(2024, 6, 4, 13, 0, tzinfo=UTC)


def test_spring_forward_night_opens_at_0800_daylight_time() -> None:
    # 2024-03-10: Chicago moves 02:00 CST → 03:00 CDT. 22:00 CST on the 9th → 08:00 CDT on the 10th.
    evening = datetime(2024, 3, 10, 4, 0, tzinfo=UTC)
    assert QUIET.defer(evening, CHICAGO) == datetime(2024, 3, 10, 13, 0, tzinfo=UTC)  # UTC-5 now


def test_fall_back_night_opens_at_0800_standard_time() -> None:
    # 2024-11-03: Chicago moves 02:00 CDT → 01:00 CST. 01:30 (either one) → 08:00 CST = 14:00 UTC.
    first = datetime(2024, 11, 3, 6, 30, tzinfo=UTC)  # 01:30 CDT
    second = datetime(2024, 11, 3, 7, 30, tzinfo=UTC)  # 01:30 CST
    assert (
        QUIET.defer(first, CHICAGO) == QUIET.defer(second, CHICAGO) == datetime(2024, 11, 3, 14, tzinfo=UTC)
    )


def test_opening_inside_a_spring_gap_is_the_transition() -> None:
    quiet = QuietHours.parse("00:00", "02:30")  # 02:30 does not exist on 2024-03-10 in Chicago
    assert quiet.defer(datetime(2024, 3, 10, 6, 30, tzinfo=UTC), CHICAGO) == datetime(
        2024, 3, 10, 8, tzinfo=UTC
    )


def test_equal_start_and_end_disables() -> None:
    off = QuietHours(time(8), time(8))
    instant = datetime(2024, 1, 1, 3, tzinfo=UTC)
    assert not off.contains(instant, CHICAGO) and off.defer(instant, CHICAGO) == instant


ZONES = st.sampled_from(
    [
        "America/Chicago",
        "America/New_York",
        "Europe/London",
        "Australia/Sydney",
        "America/Santiago",
        "Asia/Kolkata",
        "Pacific/Chatham",
        "America/Havana",
        "UTC",
    ]
)
INSTANTS = st.datetimes(datetime(2023, 1, 1), datetime(2027, 1, 1)).map(lambda d: d.replace(tzinfo=UTC))
TIMES = st.times().map(lambda t: t.replace(microsecond=0, second=0))


@settings(max_examples=400, deadline=None)
@given(INSTANTS, ZONES, TIMES, TIMES)
@example(datetime(2024, 3, 10, 5, 0, tzinfo=UTC), "America/Havana", time(0, 1), time(0, 0))  # found once
def test_deferral_lands_outside_quiet_hours_without_going_back(
    instant: datetime, zone: str, start: time, end: time
) -> None:
    quiet = QuietHours(start, end)
    result = quiet.defer(instant, zone)
    assert result >= instant
    assert not quiet.contains(result, zone)
    open_minutes = ((start.hour - end.hour) * 60 + start.minute - end.minute) % (24 * 60)
    # a day's open window may fall wholly in a spring-forward gap (at most 2 h wide): the next day's
    assert result - instant <= timedelta(hours=26 if open_minutes > 120 else 50)
    assert quiet.defer(result, zone) == result  # idempotent: deferring twice never moves it again
    if result != instant:
        assert quiet.contains(result - timedelta(seconds=1), zone)  # the first quiet-free instant
