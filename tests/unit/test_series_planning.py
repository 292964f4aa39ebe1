"""Series planning (scheduling/domain/series.py): a dosing phase's days keep the protocol's cadence on
days the clinic can host them, from every start day; a gap is stretched exactly when no plan fits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from katflow_scheduling.domain.clinic import WEEKDAYS, ClinicConfig, load_clinic
from katflow_scheduling.domain.reservations import Need, free_days
from katflow_scheduling.domain.series import Window, phase_doses, plan_days, stretch, windows
from katflow_scheduling.domain.slots import Interval
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts.common import StretchReason
from katflow_shared.treatment_protocols import load_protocols

MONDAY = date(2030, 6, 3)  # any Monday: the rules speak of weekdays, never of today
NY = "America/New_York"
TWICE_WEEKLY = [Window(3, 4)] * 8


def _weekday_days(start: date, weeks: int = 16, open_days: frozenset[int] = frozenset(range(5))) -> set[date]:
    return {
        start + timedelta(days=i)
        for i in range(weeks * 7)
        if (start + timedelta(days=i)).weekday() in open_days
    }


@pytest.mark.parametrize("offset", range(7))
def test_twice_weekly_on_a_weekday_clinic_keeps_3_to_4_days_on_weekdays_from_any_start_day(
    offset: int,
) -> None:
    start = MONDAY + timedelta(days=offset)
    days = plan_days(_weekday_days(MONDAY), TWICE_WEEKLY, start, None)
    assert len(days) == 8 and all(d.weekday() < 5 for d in days), days  # never a Wednesday-Saturday pair
    gaps = [(b - a).days for a, b in zip(days, days[1:], strict=False)]
    assert all(3 <= g <= 4 for g in gaps), gaps
    # the earliest first dose from which the phase fits: a Wednesday start waits for Thursday
    expected_first = {0: 0, 1: 1, 2: 3, 3: 3, 4: 4, 5: 7, 6: 7}[offset]
    assert days[0] == MONDAY + timedelta(days=expected_first)


def test_a_wednesday_start_moves_the_first_dose_to_thursday() -> None:
    wednesday = MONDAY + timedelta(days=2)
    days = plan_days(_weekday_days(MONDAY), TWICE_WEEKLY, wednesday, None)
    assert days[:3] == [
        wednesday + timedelta(days=1),
        wednesday + timedelta(days=5),
        wednesday + timedelta(days=8),
    ]


def test_the_next_phase_keeps_its_gap_from_the_previous_phase_s_last_dose() -> None:
    thursday = MONDAY + timedelta(days=3)
    days = plan_days(_weekday_days(MONDAY), [Window(7, 7)] * 4, thursday + timedelta(days=1), thursday)
    assert days == [thursday + timedelta(weeks=w) for w in range(1, 5)]


def test_a_phase_that_cannot_fit_stretches_only_where_it_must() -> None:
    # open Mondays only: twice weekly cannot fit; each dose goes on the next open day
    mondays = _weekday_days(MONDAY, open_days=frozenset({0}))
    days = plan_days(mondays, [Window(3, 4)] * 3, MONDAY, None)
    assert days == [MONDAY, MONDAY + timedelta(weeks=1), MONDAY + timedelta(weeks=2)]


def test_a_plan_stops_where_the_bookable_days_run_out() -> None:
    assert plan_days({MONDAY, MONDAY + timedelta(days=3)}, TWICE_WEEKLY, MONDAY, None) == [
        MONDAY,
        MONDAY + timedelta(days=3),
    ]
    assert plan_days(set(), TWICE_WEEKLY, MONDAY, None) == []


def test_phase_doses_and_windows_follow_the_protocol() -> None:
    protocol = load_protocols().get("intranasal@1")
    assert list(phase_doses(protocol, 1)) == list(range(1, 9))
    assert list(phase_doses(protocol, 5)) == list(range(5, 9))
    assert list(phase_doses(protocol, 9)) == list(range(9, 13))
    assert windows(protocol, 8, 9) == [Window(3, 4), Window(7, 7)]


@pytest.mark.parametrize(
    ("booked", "earliest", "requested", "reason"),
    [
        (6, 1, False, StretchReason.NO_FREE_DAY),  # the window's days were there but none was free
        (6, 5, False, StretchReason.BOOKED_AFTER_WINDOW),  # the booking came after the window
        (6, 1, True, StretchReason.REQUESTED_BY_STAFF),
    ],
)
def test_a_stretch_names_its_reason(
    booked: int, earliest: int, requested: bool, reason: StretchReason
) -> None:
    day = MONDAY + timedelta(days=booked)
    found = stretch(Window(3, 4), MONDAY, day, MONDAY + timedelta(days=earliest), requested)
    assert found is not None and (found.gap_days, found.max_days, found.reason) == (booked, 4, reason)


def test_a_gap_inside_the_window_or_a_first_dose_is_no_stretch() -> None:
    assert stretch(Window(3, 4), MONDAY, MONDAY + timedelta(days=4), MONDAY, False) is None
    assert stretch(Window(3, 4), None, MONDAY + timedelta(days=30), MONDAY, False) is None


def _fitting_firsts(
    free: set[date], gaps: Sequence[Window], earliest: date, previous: date | None
) -> list[date]:
    """Every first day from which a whole plan keeps every gap: a brute-force search, written apart."""

    def fits(i: int, day: date) -> bool:
        if i == len(gaps):
            return True
        return any(
            day + timedelta(days=k) in free and fits(i + 1, day + timedelta(days=k))
            for k in range(gaps[i].min_days, gaps[i].max_days + 1)
        )

    candidates = sorted(d for d in free if d >= earliest)
    if previous is not None:
        candidates = [d for d in candidates if gaps[0].min_days <= (d - previous).days <= gaps[0].max_days]
    return [d for d in candidates if fits(1, d)]


def _clinic(open_days: frozenset[int]) -> ClinicConfig:
    base = load_clinic(DEFAULT_CLINIC)
    hours = {WEEKDAYS[d]: (time(9), time(17)) for d in sorted(open_days)}
    return base.model_copy(update={"opening_hours": hours})


windows_st = st.lists(
    st.tuples(st.integers(1, 7), st.integers(0, 3)).map(lambda t: Window(t[0], t[0] + t[1])),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 6),
    open_days=st.frozensets(st.integers(0, 6), min_size=1),
    closed=st.frozensets(st.integers(0, 60), max_size=12),
    full=st.frozensets(st.integers(0, 60), max_size=12),
    gaps=windows_st,
    after_previous=st.booleans(),
)
def test_every_gap_fits_whenever_a_plan_can_and_a_stretch_comes_exactly_when_none_can(
    start: int,
    open_days: frozenset[int],
    closed: frozenset[int],
    full: frozenset[int],
    gaps: list[Window],
    after_previous: bool,
) -> None:
    """Random opening-day patterns, closures (days taken off the calendar) and full days (both dosing
    clinicians booked all day), from each start day, with and without a previous phase's dose."""
    clinic, zone = _clinic(open_days), ZoneInfo(NY)
    first = MONDAY + timedelta(days=start)
    earliest_at = datetime.combine(first, time(8), zone)
    need = Need(("clin-1", "clin-2"), ("room-1",))
    whole = [
        Interval(
            datetime.combine(MONDAY + timedelta(days=d), time(0), zone),
            datetime.combine(MONDAY + timedelta(days=d + 1), time(0), zone),
        )
        for d in full
    ]
    busy = {"clin-1": whole, "clin-2": whole}
    bookable = free_days(clinic, need, busy, earliest_at, timedelta(minutes=135), "America/Chicago")
    bookable -= {MONDAY + timedelta(days=d) for d in closed}
    previous = first - timedelta(days=gaps[0].min_days) if after_previous else None

    days = plan_days(bookable, gaps, first, previous)

    assert all(d in bookable and d >= first for d in days)
    assert days == sorted(set(days))  # one dose a day, in order
    assert all((b - a).days >= g.min_days for a, b, g in zip(days, days[1:], gaps[1:], strict=False))
    fitting = _fitting_firsts(bookable, gaps, first, previous)
    chain = ([previous] if previous else []) + days
    steps = gaps if previous else gaps[1:]
    stretched = [(b - a).days > g.max_days for a, b, g in zip(chain, chain[1:], steps, strict=False)]
    if fitting:
        assert len(days) == len(gaps) and days[0] == fitting[0] and not any(stretched), (days, fitting)
    else:
        assert any(stretched) or len(days) < len(gaps), days  # no plan fits: a gap is stretched
    if len(days) < len(gaps):  # only because the bookable days ran out
        assert not [d for d in bookable if d > days[-1]] if days else not [d for d in bookable if d >= first]


def test_free_days_are_the_days_a_search_would_book() -> None:
    clinic = load_clinic(DEFAULT_CLINIC)
    saturday_noon = datetime.combine(MONDAY + timedelta(days=5), time(12), UTC)
    days = free_days(clinic, Need(("clin-1",), ("room-1",)), {}, saturday_noon, timedelta(minutes=135), NY)
    assert min(days) == MONDAY + timedelta(days=7)  # the weekend is closed
    assert all(d.weekday() < 5 for d in days)
