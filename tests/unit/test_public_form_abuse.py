"""The public form cannot be turned against anyone (issue 27): the acknowledgement carries nothing the
form submitted, a configured captcha / proof-of-work verifier gates it, phone prefixes are settings,
and the per-destination limit counts one inbox once. The limits themselves against a real intake:
tests/e2e/test_public_form_limits.py."""

from __future__ import annotations

import itertools
import string

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import ValidationError

from katflow_intake.adapters.postgres_intake import destinations
from katflow_intake.challenge import PROOF_HEADER, leading_zero_bits, public_form_challenge, work_digest
from katflow_intake.settings import IntakeSettings
from katflow_notifications.domain.templates import RenderEnv, default_registry

REGISTRY = default_registry()
PHISH = "Evil\nYour account is locked: visit http://phish.example"
NOT_SUBMITTED = {"crisis", "portal_url", "sender", "clinic_phone"}  # the clinic's words, not the form's


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("channel", ["email", "sms"])
def test_the_acknowledgement_carries_nothing_the_form_submitted(locale: str, channel: str) -> None:
    """Whoever typed the address, the clinic's acknowledgement says only the clinic's own words."""
    template = REGISTRY.latest("consultation_ack", "patient", channel, locale)
    assert template is not None
    fields = {
        f for text in (template.body, template.subject or "") for _, f, _, _ in string.Formatter().parse(text)
    }
    assert fields - {None} <= NOT_SUBMITTED
    env = RenderEnv(
        locale=locale,
        time_zone="America/Chicago",
        portal_url="https://portal.clinic.example",
        console_url="https://staff.clinic.example",
        clinic_phone="+1 555 010 0000",
        sender="Care Team",
        organizer="Care Team <care@clinic.example>",
        given_name=PHISH,
    )
    rendered = template.render({"course_id": "5b0c6c1e-3f7a-4d6e-9a53-2b8f0f1c9e01"}, env)
    assert "phish" not in rendered.text and "Evil" not in rendered.text
    assert "phish" not in (rendered.subject or "")


def form_app(settings: IntakeSettings) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings

    @app.post("/form", dependencies=[Depends(public_form_challenge)])
    async def form() -> str:
        return "stored"

    return app


def solve(body: bytes, bits: int) -> str:
    return next(str(n) for n in itertools.count() if leading_zero_bits(work_digest(body, str(n))) >= bits)


def unsolved(body: bytes, bits: int) -> str:
    return next(str(n) for n in itertools.count() if leading_zero_bits(work_digest(body, str(n))) < bits)


async def test_a_configured_proof_of_work_gates_the_form_and_is_bound_to_the_body() -> None:
    settings = IntakeSettings(
        public_form_verifier="katflow_intake.challenge:proof_of_work", proof_of_work_bits=8
    )
    body, other = b'{"patient": 1}', b'{"patient": 2}'
    nonce = solve(body, 8)
    transport = httpx.ASGITransport(app=form_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.post("/form", content=body)).status_code == 403
        assert (
            await http.post("/form", content=body, headers={PROOF_HEADER: unsolved(body, 8)})
        ).status_code == 403
        assert (await http.post("/form", content=body, headers={PROOF_HEADER: nonce})).json() == "stored"
        if leading_zero_bits(work_digest(other, nonce)) < 8:  # 255 times in 256: another body needs its own
            assert (await http.post("/form", content=other, headers={PROOF_HEADER: nonce})).status_code == 403


async def test_the_verifier_is_off_by_default() -> None:
    assert IntakeSettings().public_form_verifier == ""
    transport = httpx.ASGITransport(app=form_app(IntakeSettings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.post("/form", content=b"{}")).json() == "stored"


@pytest.mark.parametrize("name", ["no_such_module:verify", "katflow_intake.challenge:nothing", "no-colon"])
def test_a_verifier_that_does_not_resolve_is_refused_at_start(name: str) -> None:
    with pytest.raises(ValidationError, match="KATFLOW_PUBLIC_FORM_VERIFIER"):
        IntakeSettings(public_form_verifier=name)


def test_phone_country_codes_are_a_setting_of_prefixes() -> None:
    assert IntakeSettings().phone_country_codes == ["+1"]
    assert IntakeSettings(phone_country_codes=["+1212", "+44"]).phone_country_codes == ["+1212", "+44"]
    for bad in (["1"], ["+1a"], ["+"]):
        with pytest.raises(ValidationError, match="KATFLOW_PHONE_COUNTRY_CODES"):
            IntakeSettings(phone_country_codes=bad)


def test_one_inbox_is_one_destination_however_it_is_spelled() -> None:
    (victim,) = destinations("victim@example.org", None)
    assert destinations("Victim@Example.ORG", None) == [victim]
    assert destinations("victim+ack2@example.org", None) == [victim]
    assert destinations("other@example.org", None) != [victim]
    assert len(destinations("victim@example.org", "+15555550100")) == 2
    assert all("victim" not in key for key in destinations("victim@example.org", "+15555550100"))
