"""Every notification the service knows: who it is for, how it travels, how policy treats it.

Patient notifications go out once, on the first channel of their ``chain`` the patient consented
to; a suppressed or permanently failed channel falls back to the next one. Staff notifications
go to every channel their routing rule (config/staff.json) names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Audience = Literal["patient", "staff", "integrator"]
PATIENT_CHANNELS = ("email", "sms")
STAFF_CHANNELS = ("email", "feed", "staff_webhook")


@dataclass(frozen=True)
class NotificationType:
    name: str
    audience: Audience
    chain: tuple[str, ...] = ()  # patient: channels in order of preference
    automated: bool = False  # counts against the SMS frequency caps
    urgent: bool = False  # safety alert: quiet hours never apply
    exempt: bool = False  # reply to an inbound text: sent to that number whatever the consent
    reminder: bool = False  # bound to an appointment's time: cancelled when it moves
    optional: bool = False  # not needed for care: one-click unsubscribe (RFC 8058) stops it


def _patient(
    name: str,
    *chain: str,
    automated: bool = False,
    exempt: bool = False,
    reminder: bool = False,
    optional: bool = False,
) -> NotificationType:
    return NotificationType(
        name, "patient", chain, automated=automated, exempt=exempt, reminder=reminder, optional=optional
    )


def _staff(name: str, urgent: bool = False) -> NotificationType:
    return NotificationType(name, "staff", urgent=urgent)


NOTIFICATIONS: tuple[NotificationType, ...] = (
    _patient("consultation_ack", "email", "sms"),
    _patient("eligibility_update", "email", "sms"),
    _patient("booking_confirmation", "email", "sms"),
    _patient("appointment_rescheduled", "email", "sms"),
    _patient("appointment_cancelled", "email", "sms"),
    _patient("appointment_reminder_24h", "sms", "email", automated=True, reminder=True),
    _patient("appointment_reminder_2h", "sms", "email", automated=True, reminder=True),
    _patient("plan_ahead", "sms", "email", automated=True, reminder=True),
    _patient("aftercare", "email", "sms"),
    _patient("integration_due", "sms", "email", automated=True),
    _patient("no_show_followup", "sms", "email", automated=True),
    _patient("course_survey", "email", "sms", automated=True, optional=True),
    _patient("sms_opt_out_confirmation", "sms", exempt=True),
    _patient("sms_opt_in_confirmation", "sms", exempt=True),
    _patient("sms_help", "sms", exempt=True),
    _staff("new_consultation_request"),
    _staff("booking_waitlisted"),
    _staff("urgent_review", urgent=True),
    _staff("eligibility_review"),
    _staff("monitoring_check", urgent=True),
    _staff("rems_form_due"),
    _staff("integration_due"),
    _staff("integration_overdue"),
    _staff("appointment_missed"),
    _staff("cadence_stretched"),
    _staff("appointment_displaced"),
    _staff("patient_opted_out"),
    _staff("delivery_failed"),
    NotificationType("integrator_event", "integrator", ("webhook",)),
)
CATALOGUE: dict[tuple[str, str], NotificationType] = {(n.name, n.audience): n for n in NOTIFICATIONS}
REMINDERS = tuple(n.name for n in NOTIFICATIONS if n.reminder)


def lookup(name: str, audience: str) -> NotificationType:
    return CATALOGUE[(name, audience)]


def next_channel(notification: NotificationType, channel: str) -> str | None:
    """The channel a patient notification falls back to after ``channel``, if any."""
    chain = notification.chain
    if channel not in chain:
        return None
    index = chain.index(channel) + 1
    return chain[index] if index < len(chain) else None


def staff_notifications() -> list[str]:
    return [n.name for n in NOTIFICATIONS if n.audience == "staff"]
