from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.domain.slots import Interval, first_free_slot
from katflow_scheduling.settings import DEFAULT_CLINIC

CLINIC = load_clinic(Path(DEFAULT_CLINIC))
HOUR = timedelta(hours=1)
MONDAY_NOON_UTC = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 07:00 in New York


def test_first_slot_is_at_opening_in_clinic_zone() -> None:
    slot = first_free_slot(CLINIC, ["clin-1"], {}, MONDAY_NOON_UTC, HOUR, "America/New_York")
    assert slot is not None
    assert slot.start == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 New York


def test_busy_clinician_is_skipped_for_the_next_one() -> None:
    busy = {
        "clin-1": [Interval(datetime(2026, 11, 30, 14, tzinfo=UTC), datetime(2026, 11, 30, 15, tzinfo=UTC))]
    }
    slot = first_free_slot(CLINIC, ["clin-1", "clin-2"], busy, MONDAY_NOON_UTC, HOUR, "America/New_York")
    assert slot is not None and slot.clinician_id == "clin-2"


def test_patient_local_hours_are_honoured() -> None:
    # 09:00 New York is 06:00 in Los Angeles: too early; the first slot is 11:00 NY = 08:00 LA.
    slot = first_free_slot(CLINIC, ["clin-1"], {}, MONDAY_NOON_UTC, HOUR, "America/Los_Angeles")
    assert slot is not None
    assert slot.start == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)


def test_weekend_is_closed() -> None:
    saturday = datetime(2026, 11, 28, 12, tzinfo=UTC)
    slot = first_free_slot(CLINIC, ["clin-1"], {}, saturday, HOUR, "America/New_York")
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
    slot = first_free_slot(CLINIC, ["clin-1"], busy, MONDAY_NOON_UTC, HOUR, "America/New_York")
    assert slot is not None
    wanted = Interval(slot.start, slot.end)
    assert not any(wanted.overlaps(b) for b in busy["clin-1"])
