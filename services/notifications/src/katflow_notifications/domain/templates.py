"""Message templates, versioned. Patient-facing wording is PHI-minimal: no drug, route or diagnosis."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

CRISIS_LINE = (
    "If you are in crisis or thinking about harming yourself, call or text 988 "
    "(Suicide & Crisis Lifeline) or 911 now."
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    attachment: tuple[str, str, bytes] | None = None  # filename, mime type, content


@dataclass(frozen=True)
class Template:
    id: str
    version: int
    audience: str
    render: Callable[[Mapping[str, Any]], Rendered]


def _local(iso: str, zone: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).strftime("%A %d %B %Y at %H:%M %Z")


def _ack(c: Mapping[str, Any]) -> Rendered:
    return Rendered(
        subject="We received your request",
        text=(
            f"Hello {c['given_name']},\n\nThank you for reaching out. We received your request for a "
            "consultation and will confirm a time with you shortly.\n\n"
            f"{CRISIS_LINE}\n\nDetails are in your portal: {c['portal_url']}\n\nThe Care Team\n"
        ),
    )


def _booking(c: Mapping[str, Any]) -> Rendered:
    when = _local(c["starts_at"], c["time_zone"])
    return Rendered(
        subject="Your appointment is confirmed",
        text=(
            f"Hello {c['given_name']},\n\nYour appointment is booked for {when}.\n"
            f"Details, and how to change it, are in your portal: {c['portal_url']}\n\nThe Care Team\n"
        ),
        attachment=("appointment.ics", "text/calendar", _ics(c)),
    )


def _staff_new_request(c: Mapping[str, Any]) -> Rendered:
    return Rendered(
        subject="New consultation request",
        text=(
            f"A new consultation request arrived.\nCourse: {c['course_id']}\n"
            f"Request: {c['consultation_request_id']}\nOpen it in the staff console.\n"
        ),
    )


def _ics(c: Mapping[str, Any]) -> bytes:
    def stamp(iso: str) -> str:
        return datetime.fromisoformat(iso).astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")

    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//katflow//notifications//EN",
        "METHOD:REQUEST",
        "BEGIN:VEVENT",
        f"UID:{c['appointment_id']}@katflow",
        f"DTSTAMP:{stamp(c['created_at'])}",
        f"DTSTART:{stamp(c['starts_at'])}",
        f"DTEND:{stamp(c['ends_at'])}",
        "SUMMARY:Clinic appointment",
        f"DESCRIPTION:Details in your portal: {c['portal_url']}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in (
        Template("consultation_ack", 1, "patient", _ack),
        Template("booking_confirmation", 1, "patient", _booking),
        Template("new_consultation_request", 1, "staff", _staff_new_request),
    )
}
