"""Staff templates, English: one subject and body per notification, on email, feed and staff webhook.
Ids only (course, patient, session); the details are in the staff console."""

from __future__ import annotations

from .model import Template

STAFF_CHANNELS = ("email", "feed", "staff_webhook")
FOOTER = "\n\nCourse: {course_id}\nOpen: {console_url}/courses/{course_id}\n"

_TEXTS: dict[str, tuple[int, str, str]] = {
    "new_consultation_request": (
        1,
        "New consultation request",
        "A new consultation request arrived.\nRequest: {consultation_request_id}",
    ),
    "booking_waitlisted": (
        1,
        "Booking waitlisted: calendar full",
        "No {kind} slot is free inside the booking horizon, so this booking is waiting. It is tried "
        "again from {next_attempt_at_local} and booked into the first slot that opens; add hours or "
        "clinicians, or book it by hand, to book it sooner.",
    ),
    "urgent_review": (
        1,
        "URGENT: clinician review required",
        "A clinician must review this course now; automated messages to the patient are halted.\n"
        "Alert: {alert_id}, raised {raised_at_local}.",
    ),
    "eligibility_review": (
        1,
        "Eligibility review requested",
        "A screening result needs a clinician's eligibility decision.\nPatient: {patient_id}",
    ),
    "monitoring_check": (
        1,
        "Monitoring: {check_label} due {due_at_short}",
        "Post-session monitoring: the {check_label} is due at {due_at_local}.\nSession: {session_id}",
    ),
    "rems_form_due": (
        1,
        "Patient monitoring form due",
        "The REMS patient monitoring form for session {session_id} is due by {due_by_local}.",
    ),
    "integration_due": (
        1,
        "Follow-up session due",
        "The integration window opened; please hold the session by {window_closes_at_local}.\n"
        "Session: {session_id}",
    ),
    "integration_overdue": (
        1,
        "Follow-up session overdue",
        "No integration session was held by {window_closed_at_local}. Please contact the patient.\n"
        "Session: {session_id}",
    ),
    "appointment_missed": (
        1,
        "Missed appointment",
        "The patient did not attend the appointment at {starts_at_local}.\nAppointment: {appointment_id}",
    ),
    "cadence_stretched": (
        1,
        "Course cadence stretched: a visit is booked late",
        "Dose {dose_number} is booked {gap_days} days after the one before; the protocol allows at most "
        "{max_days_between}.\nPlanned: {planned_day_long}\nBooked: {booked_day_long}\n"
        "Why: {reason_label}.\nMove another booking, add capacity, or accept the gap.\n"
        "Appointment: {appointment_id}",
    ),
    "appointment_displaced": (
        1,
        "Appointment could not be moved after a clinic change",
        "A {kind} appointment at {starts_at_local} falls on {cause_label}, and no other time the "
        "rules allow was free. It still stands: move or cancel it, and tell the patient.\n"
        "Appointment: {appointment_id}",
    ),
    "patient_opted_out": (
        1,
        "Patient opted out of texts",
        "Patient {patient_id} replied {keyword} and will receive no more texts until they opt in again.\n"
        "Reach them by another consented channel if needed.",
    ),
    "delivery_failed": (
        1,
        "Message delivery failed",
        "A {failed_channel} message ({failed_template}) to patient {patient_id} could not be delivered on "
        "any consented channel (error: {error_code}). Please contact the patient.\nDelivery: {delivery_id}",
    ),
}


def _course_footer(name: str) -> str:
    return "" if name in ("patient_opted_out",) else FOOTER


TEMPLATES: tuple[Template, ...] = tuple(
    Template(name, "staff", channel, "en", version, body + _course_footer(name), subject)
    for name, (version, subject, body) in _TEXTS.items()
    for channel in STAFF_CHANNELS
)

INTEGRATOR_TEMPLATES: tuple[Template, ...] = (
    Template("integrator_event", "integrator", "webhook", "en", 1, "{event_json}", "{event_type}"),
)
