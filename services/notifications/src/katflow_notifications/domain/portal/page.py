"""What the page shows: each appointment in the patient's own zone and language with date and time
written out, the protocol's instructions for a dosing visit, upcoming first, then past."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from ..templates.formatting import DAYS, MONTHS
from .wording import TEXT

KINDS = ("consultation", "preparation", "dosing", "integration")
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
    date: str  # "Monday, 7 June 2027" / "lunes, 7 de junio de 2027"
    time: str  # "12:00 PM – 2:30 PM (CDT)" / "12:00 – 14:30 (CDT)"
    arrive: str  # "11:45 AM" / "11:45"
    status: str
    instructions: tuple[tuple[str, str, str], ...]  # (step, heading, text); step: fasting, ..., aftercare
    ready_check: bool = False  # a dosing visit today: ask to confirm the ride home and fasting


@dataclass(frozen=True)
class Page:
    upcoming: tuple[Visit, ...]
    past: tuple[Visit, ...]


def _clock(moment: datetime, lang: str) -> str:
    return moment.strftime("%I:%M %p").lstrip("0") if lang == "en" else f"{moment:%H:%M}"


def _day(moment: datetime, lang: str) -> str:
    weekday, month = DAYS[lang][moment.weekday()], MONTHS[lang][moment.month - 1]
    if lang == "es":
        return f"{weekday}, {moment.day} de {month} de {moment.year}"
    return f"{weekday}, {moment.day} {month} {moment.year}"


def readiness_open(kind: str, status: str, starts_at: datetime, zone: str, now: datetime) -> bool:
    """Morning-of readiness: a scheduled dosing visit on the patient's today, not yet started."""
    tz = ZoneInfo(zone)
    same_day = starts_at.astimezone(tz).date() == now.astimezone(tz).date()
    return kind == "dosing" and status == "scheduled" and same_day and now < starts_at


def written(
    row: AppointmentRow,
    zone: str,
    instructions: Mapping[str, str] | None,
    now: datetime | None = None,
    lang: str = "en",
) -> Visit:
    tz, t = ZoneInfo(zone), TEXT[lang]
    start, end = row.starts_at.astimezone(tz), row.ends_at.astimezone(tz)
    arrive = start.timestamp() - ARRIVE_MINUTES * 60
    steps: list[tuple[str, str, str]] = []
    if row.kind == "dosing" and instructions:
        given = {**instructions, "ride_home": t["ride_home"]}
        steps = [(s, t[f"step_{s}"], given[s]) for s in ("fasting", "ride_home", "driving", "aftercare")]
    return Visit(
        row.appointment_id,
        t[f"kind_{row.kind}" if row.kind in KINDS else "kind_other"],
        _day(start, lang),
        f"{_clock(start, lang)} – {_clock(end, lang)} ({start.tzname()})",
        _clock(datetime.fromtimestamp(arrive, tz), lang),
        row.status,
        tuple(steps),
        now is not None and readiness_open(row.kind, row.status, row.starts_at, zone, now),
    )


def page(
    rows: Iterable[AppointmentRow],
    zone: str,
    now: datetime,
    instructions: Mapping[UUID, Mapping[str, str]],
    lang: str = "en",
) -> Page:
    """``instructions`` by course (from the course's protocol). Cancelled visits are left out."""
    ordered = sorted((r for r in rows if r.status != "cancelled"), key=lambda r: r.starts_at)
    upcoming = [r for r in ordered if r.ends_at > now and r.status == "scheduled"]
    past = [r for r in reversed(ordered) if r not in upcoming]
    return Page(
        tuple(written(r, zone, instructions.get(r.course_id), now, lang) for r in upcoming),
        tuple(written(r, zone, instructions.get(r.course_id), lang=lang) for r in past),
    )
