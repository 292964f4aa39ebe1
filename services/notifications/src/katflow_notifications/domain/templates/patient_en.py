"""Patient templates, English. SMS bodies and email subjects are PHI-minimal: no drug, procedure,
diagnosis or score, and no name; a neutral sender and a link to the portal carry the rest."""

from __future__ import annotations

from .model import CalendarMethod, Template

SIGN_OFF = "\n\nThe Care Team\n"


def _email(
    name: str, version: int, subject: str, body: str, calendar: CalendarMethod | None = None
) -> Template:
    return Template(name, "patient", "email", "en", version, body + SIGN_OFF, subject, calendar)


def _sms(name: str, version: int, body: str) -> Template:
    return Template(name, "patient", "sms", "en", version, body)


TEMPLATES: tuple[Template, ...] = (
    _email(
        "consultation_ack",
        1,
        "We received your request",
        "Hello {given_name},\n\nThank you for reaching out. We received your request for a consultation "
        "and will confirm a time with you shortly.\n\n{crisis}\n\nDetails are in your portal: {portal_url}",
    ),
    # v2, issue 27: anyone can type any address into the public form, so the acknowledgement carries
    # nothing they typed (no name): it cannot carry a phishing text from the clinic's domain
    _email(
        "consultation_ack",
        2,
        "We received your request",
        "Hello,\n\nThank you for reaching out. We received a request for a consultation with this address "
        "and will confirm a time with you shortly. If you did not send it, you can ignore this message."
        "\n\n{crisis}\n\nDetails are in your portal: {portal_url}",
    ),
    _sms(
        "consultation_ack",
        1,
        "{sender}: We received your request and will confirm a time soon. In crisis? Call or text 988 now."
        " Reply STOP to opt out.",
    ),
    _email(
        "eligibility_update",
        1,
        "An update on your request",
        "Hello {given_name},\n\nThere is an update on your request. Please sign in to your portal to read "
        "it: {portal_url}\n\nQuestions? Call us at {clinic_phone}.\n\n{crisis}",
    ),
    _sms(
        "eligibility_update", 1, "{sender}: There is an update on your request. Please sign in: {portal_url}"
    ),
    _email(
        "booking_confirmation",
        1,
        "Your appointment is confirmed",
        "Hello {given_name},\n\nYour appointment is booked for {starts_at_local}.\n"
        "Details, and how to change it, are in your portal: {portal_url}",
        "REQUEST",
    ),
    _sms(
        "booking_confirmation",
        1,
        "{sender}: Your appointment is confirmed for {starts_at_short}. Details: {portal_url}"
        " Reply STOP to opt out.",
    ),
    _email(
        "appointment_rescheduled",
        1,
        "Your appointment has moved",
        "Hello {given_name},\n\nYour appointment has moved to {starts_at_local}. The calendar invitation "
        "attached replaces the earlier one.\nDetails are in your portal: {portal_url}",
        "REQUEST",
    ),
    _sms(
        "appointment_rescheduled",
        1,
        "{sender}: Your appointment has moved to {starts_at_short}. Details: {portal_url}",
    ),
    _email(
        "appointment_cancelled",
        1,
        "Your appointment was cancelled",
        "Hello {given_name},\n\nYour upcoming appointment was cancelled. To book a new time, visit "
        "{portal_url} or call {clinic_phone}.",
        "CANCEL",
    ),
    _sms(
        "appointment_cancelled",
        1,
        "{sender}: Your upcoming appointment was cancelled. To rebook visit {portal_url} or call"
        " {clinic_phone}.",
    ),
    _email(
        "appointment_reminder_24h",
        1,
        "Appointment reminder",
        "Hello {given_name},\n\nA reminder that your appointment is on {starts_at_local}.\n"
        "Details, and how to change it, are in your portal: {portal_url}",
    ),
    _sms(
        "appointment_reminder_24h",
        1,
        "{sender}: Reminder: your appointment is on {starts_at_short}. Details: {portal_url}"
        " Reply STOP to opt out.",
    ),
    _email(
        "appointment_reminder_2h",
        1,
        "Your appointment is soon",
        "Hello {given_name},\n\nYour appointment starts at {starts_at_local}.\n"
        "If you cannot make it, please call us at {clinic_phone}.",
    ),
    _sms(
        "appointment_reminder_2h",
        1,
        "{sender}: Your appointment starts {starts_at_short}. Can't make it? Call {clinic_phone}."
        " Reply STOP to opt out.",
    ),
    _email(
        "plan_ahead",
        1,
        "Planning for your upcoming visit",
        "Hello {given_name},\n\nYour visit is on {starts_at_local}. Please plan ahead:\n"
        "- arrange for someone to drive you home afterwards;\n"
        "- do not drive until the next day, after a restful sleep;\n"
        "- follow the eating and drinking instructions in your portal.\n\n"
        "Details: {portal_url}\nQuestions? Call us at {clinic_phone}.",
    ),
    _sms(
        "plan_ahead",
        1,
        "{sender}: Visit on {starts_at_short}. Arrange a ride home; no driving until the next day."
        " Eating instructions: {portal_url}",
    ),
    _email(
        "aftercare",
        1,
        "After your visit today",
        "Hello {given_name},\n\nThank you for coming in today. Please rest for the rest of the day. "
        "Do not drive, operate machinery or make important decisions until the next day, after a "
        "restful sleep.\nIf you feel unwell or have concerns, call us at {clinic_phone}.\n\n{crisis}\n\n"
        "Aftercare details are in your portal: {portal_url}",
    ),
    _sms(
        "aftercare",
        1,
        "{sender}: Thank you for visiting today. Rest, and no driving until tomorrow after sleep."
        " Questions: {clinic_phone}. In crisis call/text 988.",
    ),
    _email(
        "integration_due",
        1,
        "Time to book your follow-up session",
        "Hello {given_name},\n\nIt is time for your follow-up session, ideally by {window_closes_at_local}."
        "\nPlease book it in your portal: {portal_url}",
    ),
    _sms(
        "integration_due",
        1,
        "{sender}: Time to book your follow-up session. Book in your portal: {portal_url}"
        " Reply STOP to opt out.",
    ),
    _email(
        "no_show_followup",
        1,
        "We missed you",
        "Hello {given_name},\n\nWe missed you at your appointment on {starts_at_local}. Please book a new "
        "time in your portal ({portal_url}) or call us at {clinic_phone}.\n\n{crisis}",
    ),
    _sms(
        "no_show_followup",
        1,
        "{sender}: We missed you today. Please rebook in your portal: {portal_url} or call {clinic_phone}.",
    ),
    _email(
        "course_survey",
        1,
        "A short check-in survey",
        "Hello {given_name},\n\nHow are you doing? Please take a few minutes for our check-in survey: "
        "{survey_url}\n\nQuestions? Call us at {clinic_phone}.\n\n{crisis}",
    ),
    _sms(
        "course_survey", 1, "{sender}: How are you doing? Please take our short check-in survey: {survey_url}"
    ),
    _sms(
        "sms_opt_out_confirmation",
        1,
        "{sender}: You are unsubscribed and will get no more texts. Reply START to resubscribe."
        " Help: {clinic_phone}",
    ),
    _sms(
        "sms_opt_in_confirmation",
        1,
        "{sender}: You will get texts again. Msg & data rates may apply. Reply HELP for help, STOP to"
        " opt out.",
    ),
    _sms(
        "sms_help",
        1,
        "{sender}: Help: call {clinic_phone} or visit {portal_url}. Msg & data rates may apply. Reply"
        " STOP to opt out. In crisis call/text 988.",
    ),
    # v2, issue 29: every patient text carries its personal page link ({portal_url} is the signed link,
    # 65 characters with a 30-character KATFLOW_PORTAL_URL) and still fits one 160-character text
    _sms(
        "consultation_ack",
        2,
        "{sender}: Request received, we'll confirm a time soon. Crisis: call/text 988. {portal_url}"
        " STOP to opt out",
    ),
    _sms(
        "booking_confirmation",
        2,
        "{sender}: Confirmed: your appointment on {starts_at_short}. Details: {portal_url}"
        " Reply STOP to opt out.",
    ),
    _sms(
        "appointment_reminder_24h",
        2,
        "{sender}: Reminder: appointment on {starts_at_short}. Details: {portal_url} Reply STOP to opt out.",
    ),
    _email(
        "appointment_reminder_2h",
        2,
        "Your appointment is soon",
        "Hello {given_name},\n\nYour appointment starts at {starts_at_local}.\n"
        "If you cannot make it, please call us at {clinic_phone}.\nDetails: {portal_url}",
    ),
    _sms(
        "appointment_reminder_2h",
        2,
        "{sender}: Your appointment starts {starts_at_short}. Can't make it? Call {clinic_phone}."
        " {portal_url}",
    ),
    _sms(
        "plan_ahead",
        2,
        "{sender}: Visit {starts_at_short}: plan a ride home, no driving until next day. Food/drink:"
        " {portal_url}",
    ),
    _sms(
        "aftercare",
        2,
        "{sender}: Rest today; no driving until tomorrow after sleep. Aftercare: {portal_url}"
        " Crisis? Call/text 988.",
    ),
    _sms(
        "sms_opt_in_confirmation",
        2,
        "{sender}: You will get texts again. Rates may apply. HELP for help, STOP to opt out. {portal_url}",
    ),
    _sms(
        "sms_help",
        2,
        "{sender}: Help: call {clinic_phone} or see {portal_url} Rates may apply. STOP to opt out."
        " Crisis: 988.",
    ),
)
