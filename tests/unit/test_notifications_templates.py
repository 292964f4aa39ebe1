"""Every patient-facing template renders, stays PHI-minimal and fits one text; staff routing is complete."""

from __future__ import annotations

import dataclasses
from email import message_from_bytes

import pytest

from katflow_notifications.bootstrap import load_directory
from katflow_notifications.domain.catalogue import NOTIFICATIONS, lookup, staff_notifications
from katflow_notifications.domain.sms import fits_one_sms, is_gsm7, to_gsm7
from katflow_notifications.domain.templates import RenderEnv, Template, TemplateRegistry, default_registry
from katflow_notifications.domain.wording import forbidden_terms
from katflow_notifications.settings import NotificationsSettings
from tests.support.rendering import render_env

REGISTRY = default_registry()
SETTINGS = NotificationsSettings()
WHEN = "2024-11-03T07:30:00+00:00"  # the morning clocks go back in the Americas
FACTS = {
    **{
        key: WHEN
        for key in (
            "starts_at",
            "ends_at",
            "created_at",
            "decided_at",
            "discharged_at",
            "window_closes_at",
            "window_closed_at",
            "raised_at",
            "due_at",
            "due_by",
            "next_attempt_at",
        )
    },
    "course_id": "5b0c6c1e-3f7a-4d6e-9a53-2b8f0f1c9e01",
    "appointment_id": "0d9b6d7e-1c2f-4b5a-8e3d-6f7a8b9c0d1e",
    "consultation_request_id": "a6e1b9c2-6d3f-4e8a-9b7c-1d2e3f4a5b6c",
    "patient_id": "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f",
    "session_id": "e5f6a7b8-c9d0-4e1f-8a2b-3c4d5e6f7a8b",
    "alert_id": "f6a7b8c9-d0e1-4f2a-9b3c-4d5e6f7a8b9c",
    "delivery_id": "a7b8c9d0-e1f2-4a3b-8c4d-5e6f7a8b9c0d",
    "check": "blood_pressure",
    "kind": "dosing",
    "sequence": "0",
    "survey_number": "1",
    "keyword": "STOP",
    "failed_channel": "sms",
    "failed_template": "appointment_reminder_24h.patient.sms.en",
    "error_code": "sms_400",
    "event_json": "{}",
    "event_type": "io.katflow.AppointmentScheduled.v1",
    "dose_number": "3",
    "planned_day": "2026-12-10",
    "booked_day": "2026-12-14",
    "gap_days": "5",
    "max_days_between": "4",
    "reason": "no_free_day",
}
ZONES = ("America/Chicago", "America/Los_Angeles", "Pacific/Honolulu", "America/St_Johns", "Asia/Kolkata")
PATIENT_TEMPLATES = [t for t in REGISTRY.all() if t.audience == "patient"]


def env(template: Template, zone: str) -> RenderEnv:
    return render_env(template.locale, zone, given_name="Maximiliana-Alejandra")


# A message's personal page link with a 30-character KATFLOW_PORTAL_URL (docs/configuration.md)
PAGE_LINK = "https://portal.clinicname.org" + "/p/" + "A" * 32
LATEST = [
    t
    for t in PATIENT_TEMPLATES
    if REGISTRY.latest(t.family.split(".")[0], "patient", t.channel, t.locale) == t
]


@pytest.mark.parametrize("template", PATIENT_TEMPLATES, ids=lambda t: f"{t.id}.v{t.version}")
@pytest.mark.parametrize("zone", ZONES)
def test_patient_template_is_phi_minimal_and_fits(template: Template, zone: str) -> None:
    rendered = template.render(FACTS, env(template, zone))
    if template.channel == "sms":
        assert forbidden_terms(rendered.text) == [], rendered.text
        assert len(rendered.text) <= 160, (len(rendered.text), rendered.text)
        assert fits_one_sms(rendered.text) and is_gsm7(rendered.text), rendered.text
        assert "Maximiliana" not in rendered.text  # no names in texts
    else:
        assert forbidden_terms(rendered.subject) == [], rendered.subject
        assert rendered.subject and rendered.text


@pytest.mark.parametrize("template", LATEST, ids=lambda t: f"{t.id}.v{t.version}")
@pytest.mark.parametrize("zone", ZONES)
def test_every_patient_message_carries_its_page_link_and_still_fits(template: Template, zone: str) -> None:
    """The current version of each patient message links to the patient's page (the survey's link is
    the page's too); a text fits one segment with the link in it, so no text falls back to the bare
    address. The STOP confirmation alone carries no link: it says only that texts stopped."""
    rendered = template.render(FACTS, dataclasses.replace(env(template, zone), portal_url=PAGE_LINK))
    if template.family.startswith("sms_opt_out_confirmation"):
        assert PAGE_LINK not in rendered.text
        return
    assert PAGE_LINK in rendered.text, rendered.text
    if template.channel == "sms":
        assert fits_one_sms(rendered.text) and len(rendered.text) <= 160, (len(rendered.text), rendered.text)


def test_forbidden_words_are_caught() -> None:
    text = "Ketamine, esketamine or SPRAVATO infusion: dosing; diagnoses and PHQ-9 score."
    assert forbidden_terms(text) == [
        "ketamine",
        "esketamine",
        "spravato",
        "infusion",
        "dosing",
        "diagnoses",
        "phq-9",
        "score",
    ]
    assert forbidden_terms("Your follow-up session is confirmed") == []


@pytest.mark.parametrize("locale", ["en", "es"])
def test_acknowledgement_keeps_the_crisis_line(locale: str) -> None:
    template = REGISTRY.latest("consultation_ack", "patient", "email", locale)
    assert template is not None
    assert "988" in template.render(FACTS, env(template, "America/Chicago")).text
    sms = REGISTRY.latest("consultation_ack", "patient", "sms", locale)
    assert sms is not None and "988" in sms.render(FACTS, env(sms, "America/Chicago")).text


def test_existing_subjects_kept() -> None:
    subjects = {
        name: REGISTRY.latest(name, audience, "email", "en")
        for name, audience in (
            ("consultation_ack", "patient"),
            ("booking_confirmation", "patient"),
            ("new_consultation_request", "staff"),
        )
    }
    rendered = {n: t.render(FACTS, env(t, "UTC")).subject for n, t in subjects.items() if t}
    assert rendered == {
        "consultation_ack": "We received your request",
        "booking_confirmation": "Your appointment is confirmed",
        "new_consultation_request": "New consultation request",
    }


def test_every_notification_has_a_template_on_each_of_its_channels() -> None:
    for n in NOTIFICATIONS:
        channels = n.chain if n.audience != "staff" else ("email", "feed", "staff_webhook")
        for channel in channels:
            assert REGISTRY.latest(n.name, n.audience, channel, "en") is not None, (n.name, channel)
            if n.audience == "patient":
                spanish = REGISTRY.latest(n.name, n.audience, channel, "es")
                assert spanish is not None and spanish.locale == "es", (n.name, channel)


def test_booking_carries_an_ics_in_the_patient_zone_and_cancel_cancels() -> None:
    booking = REGISTRY.latest("booking_confirmation", "patient", "email", "en")
    assert booking is not None
    rendered = booking.render(FACTS, env(booking, "America/Chicago"))
    assert rendered.attachment is not None
    ics = rendered.attachment.content.decode()
    assert "METHOD:REQUEST" in ics and "DTSTART:20241103T073000Z" in ics
    assert "UID:0d9b6d7e-1c2f-4b5a-8e3d-6f7a8b9c0d1e@katflow" in ics
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    assert "Sunday 3 November 2024 at 01:30 CST" in rendered.text  # the second 01:30 of that night
    cancel = REGISTRY.latest("appointment_cancelled", "patient", "email", "en")
    assert cancel is not None
    cancelled = cancel.render(FACTS, env(cancel, "America/Chicago")).attachment
    assert cancelled is not None and b"METHOD:CANCEL" in cancelled.content


def test_old_versions_stay_renderable_and_ids_are_unique() -> None:
    v1 = REGISTRY.get("booking_confirmation.patient.sms.en", 1)
    v9 = Template("booking_confirmation", "patient", "sms", "en", 9, "{sender}: Booked {starts_at_short}.")
    registry = TemplateRegistry([*REGISTRY.all(), v9])
    assert registry.latest("booking_confirmation", "patient", "sms", "en") == v9
    assert registry.get(v1.id, 1) == v1
    with pytest.raises(ValueError, match="twice"):
        TemplateRegistry([v9, v9])


def test_unknown_locale_falls_back_to_english() -> None:
    template = REGISTRY.latest("booking_confirmation", "patient", "sms", "fr")
    assert template is not None and template.locale == "en"


def test_sms_folding_keeps_spanish_in_one_segment() -> None:
    assert to_gsm7("Su próxima cita está confirmada") == "Su proxima cita esta confirmada"
    assert to_gsm7("¿Cómo está? Mañana") == "¿Como esta? Mañana"


def test_every_staff_notification_is_routed_in_the_shipped_directory() -> None:
    staff = load_directory(SETTINGS)
    assert staff.unrouted(staff_notifications()) == []
    assert [m.email for m in staff.recipients("new_consultation_request")] == ["intake@clinic.example"]
    assert {m.id for m in staff.recipients("urgent_review")} == {"clin-1"}
    assert staff.routing["urgent_review"].urgent and lookup("urgent_review", "staff").urgent
    assert {r for m in staff.recipients("integration_overdue") for r in m.roles} >= {
        "therapist",
        "care_coordinator",
    }
    for notice in ("patient_opted_out", "delivery_failed"):
        assert [m.id for m in staff.recipients(notice)] == ["coord-1"]
    assert [m.id for m in staff.recipients("cadence_stretched")] == ["coord-1", "clin-1"]
    assert staff.routing["cadence_stretched"].channels == ["email", "feed"]


def test_staff_subjects_are_neutral_too() -> None:
    for t in REGISTRY.all():
        if t.audience == "staff" and t.channel == "email":
            subject = t.render(FACTS, env(t, "America/New_York")).subject
            assert forbidden_terms(subject) == [], subject


def test_calendar_email_has_method_parameter() -> None:
    from uuid import uuid4

    from katflow_notifications.adapters.smtp_email import SmtpEmail
    from katflow_notifications.ports import Outbound

    booking = REGISTRY.latest("booking_confirmation", "patient", "email", "en")
    assert booking is not None
    rendered = booking.render(FACTS, env(booking, "America/Chicago"))
    msg = SmtpEmail(SETTINGS).build(Outbound(uuid4(), "a@example.org", rendered))
    parsed = message_from_bytes(bytes(msg))
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "REQUEST"


@pytest.mark.parametrize("channel", ["email", "feed", "staff_webhook"])
def test_a_stretched_cadence_reads_as_days_and_reasons_with_ids_only(channel: str) -> None:
    template = REGISTRY.latest("cadence_stretched", "staff", channel, "en")
    assert template is not None
    rendered = template.render(FACTS, env(template, "Pacific/Honolulu"))  # days are the clinic's: no zone
    assert rendered.subject == "Course cadence stretched: a visit is booked late"
    assert forbidden_terms(rendered.subject) == []
    assert rendered.text == (
        "Dose 3 is booked 5 days after the one before; the protocol allows at most 4.\n"
        "Planned: Thursday 10 December 2026\n"
        "Booked: Monday 14 December 2026\n"
        "Why: no day inside the window could be booked (clinic closed, calendar full, or no qualified "
        "clinician or room free).\n"
        "Move another booking, add capacity, or accept the gap.\n"
        f"Appointment: {FACTS['appointment_id']}\n\n"
        f"Course: {FACTS['course_id']}\n"
        f"Open: {SETTINGS.staff_console_url}/courses/{FACTS['course_id']}\n"
    )
    assert "Maximiliana" not in rendered.text and FACTS["patient_id"] not in rendered.text


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("booked_after_window", "Why: it was booked after the window had passed (integration held late"),
        ("requested_by_staff", "Why: staff booked it at a time of their choosing."),
    ],
)
def test_a_stretched_cadence_without_a_planned_day_says_so(reason: str, words: str) -> None:
    template = REGISTRY.latest("cadence_stretched", "staff", "email", "en")
    assert template is not None
    text = template.render({**FACTS, "planned_day": "", "reason": reason}, env(template, "UTC")).text
    assert "Planned: none\nBooked: Monday 14 December 2026\n" in text and words in text
