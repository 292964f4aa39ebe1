"""The public form as a weapon (issue 27): anyone could make the clinic write to any address or number
as often as they liked, premium-rate ranges included. Against a real intake on a real PostgreSQL: one
email address or phone number is named in at most N requests (so acknowledgements) a day however it
is spelled, the form takes at most M requests an hour from everyone together, and phone numbers
outside the clinic's country codes are refused. The limits are the anonymous form's: a caller with
valid credentials is audited under its name instead."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import RUN_ROOT
from tests.support.infra import Infra
from tests.support.stack import make_stack


def request(email: str | None = None, phone: str | None = None, name: str = "Alex") -> dict[str, Any]:
    patient: dict[str, Any] = {
        "given_name": name,
        "family_name": "Doe",
        "date_of_birth": "1980-02-03",
        "time_zone": "America/Chicago",
    }
    patient |= {"email": email} if email else {}
    patient |= {"phone": phone} if phone else {}
    consent = {"email": email is not None, "sms": phone is not None}
    return {"patient": patient, "consent": consent, "indication": "persistent low mood"}


async def test_per_destination_and_global_limits_and_country_codes(infra: Infra) -> None:
    stack = await make_stack(
        infra,
        RUN_ROOT,
        KATFLOW_PUBLIC_FORM_PER_DESTINATION_PER_DAY="2",
        KATFLOW_PUBLIC_FORM_PER_HOUR="6",
    )
    try:
        stack.start("intake")
        form = f"{stack.url('intake')}/v1/consultation-requests"
        async with httpx.AsyncClient(timeout=30) as http:

            async def post(body: dict[str, Any], **headers: str) -> httpx.Response:
                return await http.post(form, json=body, headers=headers)

            # one inbox, however it is spelled, gets two acknowledgements a day at most
            first = await post(request("victim@example.org", name="Victim"))
            second = await post(request("Victim+2@Example.org", name="Click http://phish.example"))
            assert (first.status_code, second.status_code) == (202, 202)
            third = await post(request("victim@example.org", name="Again"))
            assert third.status_code == 429 and int(third.headers["Retry-After"]) > 0
            # a new number does not open the limited inbox again
            assert (await post(request("victim@example.org", phone="+15555550101"))).status_code == 429
            # the same for a phone number
            assert (await post(request(phone="+15555550100"))).status_code == 202
            keyed = request(phone="+15555550100", name="Keyed")
            assert (await post(keyed, **{"Idempotency-Key": "k2"})).status_code == 202
            again = await post(keyed, **{"Idempotency-Key": "k2"})
            assert again.status_code == 202, "the retry of a stored request is answered, not limited"
            assert (await post(request(phone="+15555550100"))).status_code == 429
            # numbers outside the configured country codes (+1 by default) are refused
            foreign = await post(request(phone="+447700900123"))
            assert foreign.status_code == 422
            assert [(e["loc"], e["type"]) for e in foreign.json()["detail"]] == [
                (["body", "patient", "phone"], "phone_country_code")
            ]
            # everyone together: 6 an hour (4 stored so far)
            assert (await post(request("a@example.org"))).status_code == 202
            assert (await post(request("b@example.org"))).status_code == 202
            over = await post(request("c@example.org"))
            assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
            # a credentialed caller (an integrator) is audited under its own name, not limited; a
            # credential that fails is a 401, never taken for an anonymous caller
            key = stack.auth_headers("integrator")
            assert (await post(request("victim@example.org", name="Imported"), **key)).status_code == 202
            assert (await post(request("d@example.org"), Authorization="Bearer kfk_wrong")).status_code == 401
        stored = await stack.fetchval("intake", "SELECT count(*) FROM consultation_requests")
        assert stored == 7
        to_victim = await stack.fetchval(
            "intake", "SELECT count(*) FROM patients WHERE lower(email) LIKE 'victim%@example.org'"
        )
        assert to_victim == 3
        actors = await stack.fetchval(
            "intake",
            "SELECT array_agg(DISTINCT actor ORDER BY actor) FROM audit_log"
            " WHERE action = 'consultation_request.create'",
        )
        assert len(actors) == 2 and "anonymous:web-form" in actors  # and the integrator key's name
    finally:
        stack.stop()
