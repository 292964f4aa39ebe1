from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.domain.reservations import Need, Watermark, advance, first_reservation
from katflow_scheduling.domain.slots import Interval
from katflow_scheduling.settings import DEFAULT_CLINIC

CLINIC = load_clinic(Path(DEFAULT_CLINIC))
HOUR = timedelta(hours=1)
MONDAY_NOON_UTC = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 07:00 in New York


def test_first_slot_is_at_opening_in_clinic_zone() -> None:
    slot = first_reservation(CLINIC, Need(("clin-1",)), {}, MONDAY_NOON_UTC, HOUR, "America/New_York")
    assert slot is not None
    assert slot.start == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 New York


def test_busy_clinician_is_skipped_for_the_next_one() -> None:
    busy = {
        "clin-1": [Interval(datetime(2026, 11, 30, 14, tzinfo=UTC), datetime(2026, 11, 30, 15, tzinfo=UTC))]
    }
    slot = first_reservation(
        CLINIC, Need(("clin-1", "clin-2")), busy, MONDAY_NOON_UTC, HOUR, "America/New_York"
    )
    assert slot is not None and slot.clinician_id == "clin-2"


def test_patient_local_hours_are_honoured() -> None:
    # 09:00 New York is 06:00 in Los Angeles: too early; the first slot is 11:00 NY = 08:00 LA.
    slot = first_reservation(CLINIC, Need(("clin-1",)), {}, MONDAY_NOON_UTC, HOUR, "America/Los_Angeles")
    assert slot is not None
    assert slot.start == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def test_weekend_is_closed() -> None:
    saturday = datetime(2026, 11, 28, 12, tzinfo=UTC)
    slot = first_reservation(CLINIC, Need(("clin-1",)), {}, saturday, HOUR, "America/New_York")
    assert slot is not None and slot.start.astimezone(UTC).weekday() == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=200), max_size=40))
def test_never_overlaps_existing_bookings(offsets: list[int]) -> None:
    base = datetime(2026, 11, 30, 14, tzinfo=UTC)
    busy = {
        "clin-1": [
            Interval(base + k * timedelta(minutes=30), base + k * timedelta(minutes=30) + HOUR)
            for k in offsets
        ]
    }
    slot = first_reservation(CLINIC, Need(("clin-1",)), busy, MONDAY_NOON_UTC, HOUR, "America/New_York")
    assert slot is not None
    wanted = Interval(slot.start, slot.end)
    assert not any(wanted.overlaps(b) for b in busy["clin-1"])


ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Pacific/Honolulu"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["book", "book", "book", "free"]),
            st.integers(min_value=0, max_value=96),  # earliest: hours after the first Monday 07:00
            st.sampled_from(ZONES),
            st.sampled_from([60, 90]),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_resuming_at_the_watermark_finds_what_a_full_search_finds(
    steps: list[tuple[str, int, str, int]],
) -> None:
    """Bookings through the watermark land exactly where a search from scratch would put them; freeing
    an interval (the generation bump) drops every watermark."""
    need = Need(("clin-1", "clin-2"))
    busy: dict[str, list[Interval]] = {"clin-1": [], "clin-2": []}
    marks: dict[int, Watermark] = {}
    for action, hours, zone, minutes in steps:
        if action == "free":
            for intervals in busy.values():
                if intervals:
                    intervals.pop(len(intervals) // 2)
            marks.clear()
            continue
        earliest, duration = MONDAY_NOON_UTC + timedelta(hours=hours), timedelta(minutes=minutes)
        expected = first_reservation(CLINIC, need, busy, earliest, duration, zone)
        mark = marks.get(minutes)
        start = mark.resume_at(earliest) if mark else None
        got = first_reservation(CLINIC, need, busy, earliest, duration, zone, resume_at=start)
        assert got == expected
        assert got is not None
        marks[minutes] = advance(mark, CLINIC, earliest, got, zone)
        busy[got.clinician_id].append(Interval(got.start, got.end))


def test_the_booking_horizon_counts_from_earliest_not_from_the_watermark() -> None:
    horizon = timedelta(days=CLINIC.booking_horizon_days + 1)
    assert (
        first_reservation(
            CLINIC,
            Need(("clin-1",)),
            {},
            MONDAY_NOON_UTC,
            HOUR,
            "America/New_York",
            resume_at=MONDAY_NOON_UTC + horizon,
        )
        is None
    )
