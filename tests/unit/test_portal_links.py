"""The patient page's links: signed, expiring, opaque; the second factor's rules; the page's wording."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from katflow_notifications.adapters import mime
from katflow_notifications.domain.portal import factor, links, wording
from katflow_notifications.domain.portal.page import AppointmentRow, page

SECRET = b"unit-test-portal-secret"
NOW = datetime(2027, 6, 7, 17, 0, tzinfo=UTC)
INSTRUCTIONS = {"fasting": "No food for 6 hours.", "driving": "No driving.", "aftercare": "Rest."}


def test_a_signed_token_verifies_to_its_link_until_it_expires() -> None:
    link_id = links.new_link_id()
    token = links.sign(SECRET, link_id, NOW + timedelta(days=14))
    assert len(token) == 32 and token.isascii() and "=" not in token
    assert links.verify(SECRET, token, NOW).link_id == link_id
    assert links.verify(SECRET, token, NOW + timedelta(days=14) - timedelta(seconds=1)).link_id == link_id
    with pytest.raises(links.LinkExpired):
        links.verify(SECRET, token, NOW + timedelta(days=14))


def test_the_token_names_nothing_but_a_random_link() -> None:
    patient = uuid.uuid4()
    token = links.sign(SECRET, links.new_link_id(), NOW)
    assert patient.hex not in token and str(patient) not in token


@pytest.mark.parametrize("position", [0, 9, 20, 31])
def test_a_changed_character_is_refused(position: int) -> None:
    token = links.sign(SECRET, links.new_link_id(), NOW + timedelta(days=1))
    flipped = token[:position] + ("A" if token[position] != "A" else "B") + token[position + 1 :]
    with pytest.raises(links.LinkRefused) as refused:
        links.verify(SECRET, flipped, NOW)
    assert not isinstance(refused.value, links.LinkExpired)


@pytest.mark.parametrize("token", ["", "x" * 32, "é" * 32, "!" * 32, "a" * 31, "a" * 200])
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(links.LinkRefused):
        links.verify(SECRET, token, NOW)


def test_another_key_or_purpose_does_not_verify() -> None:
    link_id = links.new_link_id()
    token = links.sign(SECRET, link_id, NOW + timedelta(days=1))
    with pytest.raises(links.LinkRefused):
        links.verify(b"another-secret", token, NOW)
    with pytest.raises(links.LinkRefused):  # a link is not a session cookie, nor the reverse
        links.verify(SECRET, token, NOW, purpose="session")
    cookie = links.sign(SECRET, link_id, NOW + timedelta(days=1), purpose="session")
    with pytest.raises(links.LinkRefused):
        links.verify(SECRET, cookie, NOW)


def test_the_second_factor_is_the_date_of_birth_and_locks_after_five_misses() -> None:
    born = date(1990, 1, 31)
    assert factor.matches("1990-01-31", born)
    assert not factor.matches("1990-01-30", born)
    assert not factor.matches("", born) and not factor.matches("31/01/1990", born)
    assert not factor.matches("1990-01-31", None)  # none on file: never opens
    assert not factor.locks_after(4) and factor.locks_after(5)


def test_the_page_writes_out_times_in_the_patients_zone_with_the_visits_instructions() -> None:
    course = uuid.uuid4()
    start = datetime(2027, 6, 8, 17, 0, tzinfo=UTC)  # 12:00 in Chicago (CDT)
    rows = [
        AppointmentRow(uuid.uuid4(), course, "dosing", start, start + timedelta(hours=2), "scheduled"),
        AppointmentRow(
            uuid.uuid4(),
            course,
            "preparation",
            NOW - timedelta(days=3),
            NOW - timedelta(days=3, hours=-1),
            "completed",
        ),
        AppointmentRow(uuid.uuid4(), course, "dosing", start, start + timedelta(hours=2), "cancelled"),
    ]
    shown = page(rows, "America/Chicago", NOW, {course: INSTRUCTIONS})
    [visit] = shown.upcoming
    assert visit.date == "Tuesday, 8 June 2027"
    assert visit.time == "12:00 PM – 2:00 PM (CDT)" and visit.arrive == "11:45 AM"
    assert ("fasting", "Before: eating and drinking", "No food for 6 hours.") in visit.instructions
    assert [p.label for p in shown.past] == ["Preparation session"]
    assert shown.past[0].instructions == ()


def test_a_genuine_expired_token_still_unsubscribes_but_a_forged_one_does_not() -> None:
    link_id = links.new_link_id()
    token = links.sign(SECRET, link_id, NOW - timedelta(days=1))
    assert links.genuine(SECRET, token).link_id == link_id
    with pytest.raises(links.LinkRefused):
        links.genuine(b"another-secret", token)


def test_an_optional_email_carries_rfc_8058_one_click_headers() -> None:
    url = "https://portal.clinic.example/u/" + "A" * 32
    raw = mime.message(
        "care@clinic.example",
        "p@example.org",
        "Survey",
        "<1@katflow>",
        "Hi",
        None,
        eight_bit=True,
        utf8=False,
        unsubscribe_url=url,
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["List-Unsubscribe"] == f"<{url}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = mime.message(
        "care@clinic.example", "p@example.org", "Hi", "<2@katflow>", "Hi", None, eight_bit=True, utf8=False
    )
    assert b"List-Unsubscribe" not in plain


def test_the_page_speaks_the_browsers_language_before_the_second_factor() -> None:
    assert wording.from_accept_language("es-MX,es;q=0.9,en;q=0.8", "en") == "es"
    assert wording.from_accept_language("fr-FR, en;q=0.5, es;q=0.7", "en") == "es"
    assert wording.from_accept_language("fr-FR", "es") == "es"
    assert wording.from_accept_language("es;q=0, en-GB", "es") == "en"
    assert wording.from_accept_language(None, "es-US") == "es"
    assert wording.language("pt") == "en"


def test_every_language_of_the_page_says_everything() -> None:
    keys = set(wording.TEXT["en"])
    assert all(set(words) == keys for words in wording.TEXT.values())
    assert set(wording.TEXT) == set(wording.LANGUAGES)


def test_a_spanish_page_writes_dates_and_times_the_spanish_way() -> None:
    course, start = uuid.uuid4(), datetime(2027, 6, 8, 19, 30, tzinfo=UTC)  # 14:30 in Chicago
    row = AppointmentRow(uuid.uuid4(), course, "dosing", start, start + timedelta(hours=2), "scheduled")
    [visit] = page([row], "America/Chicago", NOW, {course: INSTRUCTIONS}, "es").upcoming
    assert (visit.label, visit.date) == ("Sesión de tratamiento", "martes, 8 de junio de 2027")
    assert visit.time == "14:30 – 16:30 (CDT)" and visit.arrive == "14:15"
    assert visit.instructions[0][:2] == ("fasting", "Antes: comida y bebida")
