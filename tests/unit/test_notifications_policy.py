"""Consent, frequency caps and the dispatch decision (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from katflow_notifications.bootstrap import policy
from katflow_notifications.domain.caps import FrequencyCap
from katflow_notifications.domain.consent import Consent, email_permitted, newest, sms_permitted
from katflow_notifications.domain.policy import Defer, Send, Suppress, Target, Traits
from katflow_notifications.domain.templates import Rendered
from katflow_notifications.settings import NotificationsSettings

POLICY = policy(NotificationsSettings())
T0 = datetime(2024, 6, 1, 12, tzinfo=UTC)
NOON_CHICAGO = datetime(2024, 6, 3, 17, tzinfo=UTC)
NIGHT_CHICAGO = datetime(2024, 6, 4, 4, tzinfo=UTC)  # 23:00 CDT
PATIENT = Target("+15551230000", "America/Chicago", True)
REMINDER = Traits("patient", "sms", automated=True)


def test_consent_is_off_until_given() -> None:
    assert not sms_permitted(Consent.none(), "+15551230000", None)
    assert not email_permitted(Consent.none(), "a@example.org")
    assert email_permitted(Consent(True, T0), "a@example.org")
    assert not email_permitted(Consent(True, T0), None)


def test_opt_out_after_consent_wins_until_a_newer_consent() -> None:
    given_consent = Consent(True, T0, "web-form")
    assert not sms_permitted(given_consent, "+1555", T0 + timedelta(days=1))
    assert sms_permitted(
        Consent(True, T0 + timedelta(days=2), "sms-keyword:START"), "+1555", T0 + timedelta(days=1)
    )


def test_newest_capture_wins_and_undated_never_overrides() -> None:
    old, new = Consent(True, T0), Consent(False, T0 + timedelta(hours=1))
    assert newest(old, new) == new and newest(new, old) == new
    assert newest(new, Consent(True, None)) == new


@given(st.lists(st.tuples(st.booleans(), st.datetimes(timezones=st.just(UTC))), min_size=1, max_size=6))
def test_newest_is_order_independent(captures: list[tuple[bool, datetime]]) -> None:
    consents = [Consent(g, t) for g, t in captures]
    latest = max(c.captured_at for c in consents if c.captured_at)
    forward, backward = consents[0], consents[-1]
    for c in consents[1:]:
        forward = newest(forward, c)
    for c in reversed(consents[:-1]):
        backward = newest(backward, c)
    assert forward.captured_at == backward.captured_at == latest


def test_caps_count_local_days_and_the_week() -> None:
    cap = FrequencyCap(per_day=1, per_week=3)
    zone = "America/Chicago"
    yesterday_evening = datetime(2024, 6, 3, 1, tzinfo=UTC)  # 20:00 CDT on the 2nd
    assert cap.allows([yesterday_evening], datetime(2024, 6, 3, 14, tzinfo=UTC), zone)  # 09:00 CDT on the 3rd
    assert not cap.allows([datetime(2024, 6, 3, 13, tzinfo=UTC)], datetime(2024, 6, 3, 22, tzinfo=UTC), zone)
    three = [datetime(2024, 6, d, 15, tzinfo=UTC) for d in (1, 2, 3)]
    assert not cap.allows(three, datetime(2024, 6, 5, 15, tzinfo=UTC), zone)
    assert cap.allows(three, datetime(2024, 6, 8, 15, tzinfo=UTC), zone)  # the 1st left the week


def test_decision_sends_defers_or_suppresses() -> None:
    assert POLICY.decide(REMINDER, PATIENT, NOON_CHICAGO, []) == Send("+15551230000")
    night = POLICY.decide(REMINDER, PATIENT, NIGHT_CHICAGO, [])
    assert night == Defer(datetime(2024, 6, 4, 13, tzinfo=UTC), "quiet_hours")
    assert POLICY.decide(REMINDER, PATIENT, NOON_CHICAGO, [NOON_CHICAGO - timedelta(hours=2)]) == Suppress(
        "frequency_cap"
    )
    refused = Target("+15551230000", "America/Chicago", False, "opted_out")
    assert POLICY.decide(REMINDER, refused, NOON_CHICAGO, []) == Suppress("opted_out")


def test_urgent_staff_alert_ignores_quiet_hours_but_non_urgent_waits() -> None:
    hook = Target("clinical-alerts", "America/Chicago", True)
    assert POLICY.decide(Traits("staff", "staff_webhook", urgent=True), hook, NIGHT_CHICAGO, []) == Send(
        "clinical-alerts"
    )
    assert isinstance(POLICY.decide(Traits("staff", "staff_webhook"), hook, NIGHT_CHICAGO, []), Defer)


def test_keyword_replies_go_whatever_the_consent_and_hour() -> None:
    refused = Target("+15551230000", "America/Chicago", False, "opted_out")
    reply = Traits("patient", "sms", exempt=True)
    assert POLICY.decide(reply, refused, NIGHT_CHICAGO, []) == Send("+15551230000")


def test_email_is_not_quiet_houred_or_capped_by_default() -> None:
    email = Target("a@example.org", "America/Chicago", True)
    traits = Traits("patient", "email", automated=True)
    assert POLICY.decide(traits, email, NIGHT_CHICAGO, [NIGHT_CHICAGO] * 5) == Send("a@example.org")


def test_content_problems_for_patients_only() -> None:
    sms = Traits("patient", "sms")
    assert POLICY.content_problem(sms, Rendered("", "Your infusion is tomorrow")) == "phi_wording"
    assert POLICY.content_problem(sms, Rendered("", "x" * 161)) == "sms_too_long"
    assert POLICY.content_problem(sms, Rendered("", "x" * 160)) is None
    email = Traits("patient", "email")
    assert POLICY.content_problem(email, Rendered("Ketamine session", "")) == "phi_wording"
    assert POLICY.content_problem(Traits("staff", "email"), Rendered("REMS form", "")) is None
