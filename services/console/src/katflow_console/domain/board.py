"""What the console shows, decided from events: appointment status, alerts, timeline lines. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from katflow_shared.contracts import Event

# appointment events -> the status the board shows
STATUS_OF = {
    "AppointmentScheduled": "scheduled",
    "AppointmentRescheduled": "scheduled",
    "AppointmentCancelled": "cancelled",
    "AppointmentCompleted": "discharged",
    "AppointmentMissed": "no-show",
    "AppointmentDisplaced": "displaced",
}
STATUS_WORDS = {
    "scheduled": "Scheduled",
    "checked_in": "Checked in",
    "in_monitoring": "In monitoring",
    "discharge_ready": "Discharge-ready",
    "discharged": "Done",
    "cancelled": "Cancelled",
    "no-show": "No-show",
    "displaced": "Needs a new time",
}
URGENT = frozenset({"UrgentReviewRequired", "IntegrationOverdue"})
ALERT_WORDS = {
    "UrgentReviewRequired": "Urgent review: automation halted for this course; a clinician must act now",
    "IntegrationOverdue": "Integration overdue: the integration window closed without a session",
    "CadenceStretched": "Cadence stretched: a dose was booked later than the protocol's spacing",
    "NotificationFailed": "A message reached nobody",
    "AppointmentDisplaced": "An appointment could not be moved off a closed day",
}


@dataclass(frozen=True)
class Alert:
    kind: str
    urgent: bool
    summary: str


def alert_for(event: Event) -> Alert | None:
    """The alert an event raises, if any."""
    name = type(event).name
    if name not in ALERT_WORDS:
        return None
    return Alert(name, name in URGENT, ALERT_WORDS[name] + _detail(event))


def _detail(event: Event) -> str:
    data = event.model_dump(mode="json")
    if "dose_number" in data:
        return f" (dose {data['dose_number']})"
    if "template_id" in data:
        return f" ({data['template_id']} by {data['channel']}: {data['error_code']})"
    return ""


def timeline_line(type_: str, data: dict[str, Any]) -> str:
    """One event as staff read it on a course's timeline (ids and codes only, no clinical notes)."""
    parts = [type_]
    for key in ("kind", "dose_number", "check", "template_id", "channel", "outcome", "route", "reason"):
        if data.get(key) is not None:
            parts.append(f"{key.replace('_', ' ')}: {data[key]}")
    return " · ".join(parts)
