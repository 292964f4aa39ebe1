"""The console's REMS Patient Monitoring Form (domain/rems.py ``form``): the concomitant medications,
the 40-minute blood-pressure check recorded when prompted and when the patient would have been ready
to leave, each from the visit's record, with what the form falls back to when they were not entered."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from katflow_console.domain.rems import form, time_today

ZONE = ZoneInfo("America/New_York")
SESSION = {
    "administered_at": "2027-06-04T14:00:10+00:00",  # 10:00:10 in New York
    "monitoring_ended_at": "2027-06-04T16:01:00+00:00",  # 12:01
    "dose_number": 1,
}
RECORD: dict[str, Any] = {
    "pre_bp": "124/78",
    "dose_mg": 56,
    "lot_number": "LOT-1",
    "concomitant_medications": "Sertraline 50 mg daily",
    "post_bp": "130/82",
    "bp_40min": {
        "systolic": 136,
        "diastolic": 84,
        "taken_at": "2027-06-04T10:41:00-04:00",
        "recorded_by": "clin-1",
        "recorded_at": "2027-06-04T14:42:10+00:00",
    },
    "discharge_bp": "128/80",
    "effects": {"sedation": "none", "dissociation": "mild", "respiratory_depression": "none"},
    "ready_to_leave_at": "2027-06-04T11:55:00-04:00",
}


def rows(record: dict[str, Any], session: dict[str, Any] | None = SESSION) -> dict[str, str]:
    return dict(form("Ada Lovelace", date(1980, 2, 3), record, session, ZONE))


def test_the_form_shows_the_medications_the_40_minute_check_and_when_ready_to_leave() -> None:
    filled = rows(RECORD)
    assert filled["Concomitant medications"] == "Sertraline 50 mg daily"
    forty = filled["Blood pressure about 40 minutes after dosing"]
    assert forty == "136/84 at 10:41 (41 minutes after dosing)"
    assert filled["When the patient would have been ready to leave"] == "11:55"
    assert filled["Total monitoring time"] == "120 minutes"  # still from the session's own times
    labels = list(filled)
    assert labels.index("Dose and lot number") < labels.index("Concomitant medications")
    assert labels.index("Concomitant medications") < labels.index("Blood pressure before dosing")


def test_without_them_the_form_falls_back_to_the_discharge_entries_and_the_end_of_monitoring() -> None:
    older = {k: v for k, v in RECORD.items() if k not in ("bp_40min", "ready_to_leave_at")}
    older["concomitant_medications"] = ""
    filled = rows(older)
    assert filled["Concomitant medications"] == "—"
    assert filled["Blood pressure about 40 minutes after dosing"] == "130/82"
    assert filled["When the patient would have been ready to leave"] == "12:01"


def test_before_the_session_a_recorded_check_shows_without_its_minutes_after_dosing() -> None:
    filled = rows(RECORD, session=None)
    assert filled["Blood pressure about 40 minutes after dosing"] == "136/84 at 10:41"
    assert filled["When the patient would have been ready to leave"] == "11:55"
    assert rows({}, session=None)["Concomitant medications"] == "—"


def test_a_time_entered_at_the_visit_is_today_in_the_clinic_and_not_later_than_now() -> None:
    now = datetime(2027, 6, 4, 14, 42, 30, tzinfo=UTC)  # 10:42:30 in New York
    assert time_today("10:41", now, ZONE) == datetime(2027, 6, 4, 10, 41, tzinfo=ZONE)
    assert time_today(" 10:42 ", now, ZONE) == datetime(2027, 6, 4, 10, 42, tzinfo=ZONE)
    assert time_today("10:43", now, ZONE) is None  # later than now
    assert time_today("24:00", now, ZONE) is None
    assert time_today("10.41", now, ZONE) is None
    assert time_today("", now, ZONE) is None
