"""The esketamine REMS Patient Monitoring Form of one dosing visit, filled from what the console
knows: the visit's events (SessionAdministered) and what staff entered through the console."""

from __future__ import annotations

from datetime import date, datetime, timedelta
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
    """(field, value) in the form's order; '—' where nothing is known yet."""
    given = datetime.fromisoformat(session["administered_at"]).astimezone(zone) if session else None
    ended = datetime.fromisoformat(session["monitoring_ended_at"]).astimezone(zone) if session else None
    effects = record.get("effects", {})
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
        ("Blood pressure before dosing", record.get("pre_bp", "—")),
        ("Blood pressure about 40 minutes after dosing", record.get("post_bp", "—")),
        ("Blood pressure before completion of monitoring", record.get("discharge_bp", "—")),
        *((label, effects.get(key, "—")) for key, label in EFFECTS.items()),
        (
            "Total monitoring time",
            f"{int((ended - given).total_seconds() // 60)} minutes" if given and ended else "—",
        ),
        ("When the patient would have been ready to leave", ended.strftime("%H:%M") if ended else "—"),
    ]
    return [(k, str(v)) for k, v in rows]


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
