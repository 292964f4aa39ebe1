"""The esketamine REMS Patient Monitoring Form of one dosing visit, filled from what the console
knows: the visit's events (SessionAdministered) and what staff entered through the console
(``visit_records``: the blood pressures, the dose's lot number, the concomitant medications, the
40-minute blood-pressure check and when the patient would have been ready to leave)."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

EFFECTS = {
    "sedation": "Sedation",
    "dissociation": "Dissociation",
    "respiratory_depression": "Respiratory depression",
}


def form(
    patient: str, born: date | None, record: dict[str, Any], session: dict[str, Any] | None, zone: ZoneInfo
) -> list[tuple[str, str]]:
    """(field, value) in the form's order; '—' where nothing is known yet. The blood pressure about
    40 minutes after dosing is the check recorded when it was prompted (``bp_40min``), else the one
    entered at discharge; the time the patient would have been ready to leave is the one entered at
    discharge (``ready_to_leave_at``), else the end of monitoring."""
    given = datetime.fromisoformat(session["administered_at"]).astimezone(zone) if session else None
    ended = datetime.fromisoformat(session["monitoring_ended_at"]).astimezone(zone) if session else None
    effects = record.get("effects", {})
    ready = _at(record.get("ready_to_leave_at"), zone) or ended
    rows = [
        ("Patient", patient),
        ("Date of birth", str(born) if born else "—"),
        ("Treatment session date", given.date().isoformat() if given else "—"),
        ("Dose number", str(session["dose_number"]) if session else "—"),
        (
            "Dose and lot number",
            f"{record['dose_mg']:g} mg, lot {record.get('lot_number') or '—'}"
            if "dose_mg" in record
            else "—",
        ),
        ("Concomitant medications", record.get("concomitant_medications") or "—"),
        ("Blood pressure before dosing", record.get("pre_bp", "—")),
        ("Blood pressure about 40 minutes after dosing", _forty_minutes(record, given, zone)),
        ("Blood pressure before completion of monitoring", record.get("discharge_bp", "—")),
        *((label, effects.get(key, "—")) for key, label in EFFECTS.items()),
        (
            "Total monitoring time",
            f"{int((ended - given).total_seconds() // 60)} minutes" if given and ended else "—",
        ),
        ("When the patient would have been ready to leave", ready.strftime("%H:%M") if ready else "—"),
    ]
    return [(k, str(v)) for k, v in rows]


def _at(iso: str | None, zone: ZoneInfo) -> datetime | None:
    return datetime.fromisoformat(iso).astimezone(zone) if iso else None


def _forty_minutes(record: dict[str, Any], given: datetime | None, zone: ZoneInfo) -> str:
    check = record.get("bp_40min")
    if not check:
        return str(record.get("post_bp", "—"))
    taken = datetime.fromisoformat(check["taken_at"]).astimezone(zone)
    words = f"{check['systolic']}/{check['diastolic']} at {taken:%H:%M}"
    if given is not None:
        words += f" ({round((taken - given).total_seconds() / 60)} minutes after dosing)"
    return words


CLOCK_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def time_today(entered: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """A time of day entered at the visit (``HH:MM``, a time input's value) as that time on the
    clinic's today; None unless it is such a time no later than ``now`` (it is when something was
    taken or happened, not a plan)."""
    found = CLOCK_TIME.fullmatch(entered.strip())
    if found is None:
        return None
    local = now.astimezone(zone)
    at = datetime.combine(local.date(), time(int(found[1]), int(found[2])), zone)
    return at if at <= local.replace(second=59, microsecond=999999) else None


def filing_due(
    session: dict[str, Any] | None, due_days: int, today: date, zone: ZoneInfo
) -> tuple[date, str] | None:
    """When the form must be filed (the protocol's days after the session) and how that stands today."""
    if not session:
        return None
    due = datetime.fromisoformat(session["administered_at"]).astimezone(zone).date() + timedelta(
        days=due_days
    )
    left = (due - today).days
    words = (
        f"due in {left} days"
        if left > 1
        else "due tomorrow"
        if left == 1
        else "due today"
        if left == 0
        else f"overdue by {-left} days"
    )
    return due, words
