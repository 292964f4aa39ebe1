"""What the page shows: each appointment in the patient's own zone with date and time written out,
the protocol's instructions for a dosing visit, upcoming first, then past."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

KIND_LABELS = {
    "consultation": "Consultation",
    "preparation": "Preparation session",
    "dosing": "Treatment session",
    "integration": "Integration session",
}
RIDE_HOME = "Arrange a ride home: someone must take you home after this visit."
ARRIVE_MINUTES = 15


@dataclass(frozen=True)
class AppointmentRow:
    appointment_id: UUID
    course_id: UUID
    kind: str
    starts_at: datetime
    ends_at: datetime
    status: str


@dataclass(frozen=True)
class Visit:
    appointment_id: UUID
    label: str
    date: str  # "Monday, 7 June 2027"
    time: str  # "12:00 PM – 2:30 PM (CDT)"
    arrive: str  # "11:45 AM"
    status: str
    instructions: tuple[tuple[str, str], ...]  # (heading, text)
    ready_check: bool = False  # a dosing visit today: ask to confirm the ride home and fasting


@dataclass(frozen=True)
class Page:
    upcoming: tuple[Visit, ...]
    past: tuple[Visit, ...]


def _clock(moment: datetime) -> str:
    return moment.strftime("%I:%M %p").lstrip("0")


def readiness_open(kind: str, status: str, starts_at: datetime, zone: str, now: datetime) -> bool:
    """Morning-of readiness: a scheduled dosing visit on the patient's today, not yet started."""
    tz = ZoneInfo(zone)
    same_day = starts_at.astimezone(tz).date() == now.astimezone(tz).date()
    return kind == "dosing" and status == "scheduled" and same_day and now < starts_at


def written(
    row: AppointmentRow, zone: str, instructions: Mapping[str, str] | None, now: datetime | None = None
) -> Visit:
    tz = ZoneInfo(zone)
    start, end = row.starts_at.astimezone(tz), row.ends_at.astimezone(tz)
    arrive = start.timestamp() - ARRIVE_MINUTES * 60
    steps: list[tuple[str, str]] = []
    if row.kind == "dosing" and instructions:
        steps = [
            ("Before: eating and drinking", instructions["fasting"]),
            ("Ride home", RIDE_HOME),
            ("Driving", instructions["driving"]),
            ("Aftercare", instructions["aftercare"]),
        ]
    return Visit(
        row.appointment_id,
        KIND_LABELS.get(row.kind, "Appointment"),
        f"{start:%A}, {start.day} {start:%B %Y}",
        f"{_clock(start)} – {_clock(end)} ({start.tzname()})",
        _clock(datetime.fromtimestamp(arrive, tz)),
        row.status,
        tuple(steps),
        now is not None and readiness_open(row.kind, row.status, row.starts_at, zone, now),
    )


def page(
    rows: Iterable[AppointmentRow],
    zone: str,
    now: datetime,
    instructions: Mapping[UUID, Mapping[str, str]],
) -> Page:
    """``instructions`` by course (from the course's protocol). Cancelled visits are left out."""
    ordered = sorted((r for r in rows if r.status != "cancelled"), key=lambda r: r.starts_at)
    upcoming = [r for r in ordered if r.ends_at > now and r.status == "scheduled"]
    past = [r for r in reversed(ordered) if r not in upcoming]
    return Page(
        tuple(written(r, zone, instructions.get(r.course_id), now) for r in upcoming),
        tuple(written(r, zone, instructions.get(r.course_id)) for r in past),
    )
