"""SMS through Twilio, the notifications service as a real process against a local server that speaks
Twilio's Messages API (katflow_notifications.devtools.fake_twilio): texts go out with a status
callback, delivery states come back from signed callbacks, inbound STOP/START/HELP change consent,
and whatever is not signed with the account's auth token (X-Twilio-Signature) changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from katflow_notifications.devtools.fake_twilio import DEV_ACCOUNT_SID, FakeTwilio
from tests.support.event_world import EventWorld, event_stack
from tests.support.infra import Infra
from tests.support.stack import wait_for

TOKEN = "e2e-twilio-auth-token"
PHONE = "+15557654321"
EMAIL = "e2e-twilio@example.org"


@dataclass
class World(EventWorld):
    twilio: FakeTwilio

    async def deliveries(self) -> list[dict[str, object]]:
        async with httpx.AsyncClient() as http:
            url = f"{self.url}/v1/patients/{self.patient_id}/deliveries"
            answer: list[dict[str, object]] = (await http.get(url, headers=self.stack.auth_headers())).json()
            return answer

    async def texted_integration_due(self) -> list[str]:
        """The patient's contact details on file, then an integration session due: the texts Twilio
        was asked to send them (once there is one, within 60 s)."""
        await self.contact()
        await self.publish(self.integration_due())

        async def sent() -> list[str]:
            return self.twilio.texts_to(PHONE)

        texts: list[str] = await wait_for(sent, within=60)
        return texts


@pytest.fixture
async def world(infra: Infra) -> AsyncIterator[World]:
    twilio = FakeTwilio(DEV_ACCOUNT_SID, TOKEN).start()
    try:
        async with event_stack(
            infra,
            KATFLOW_SMS_PROVIDER="twilio",
            KATFLOW_TWILIO_ACCOUNT_SID=DEV_ACCOUNT_SID,
            KATFLOW_TWILIO_AUTH_TOKEN=TOKEN,
            KATFLOW_TWILIO_API_BASE_URL=twilio.url,
            KATFLOW_RETRY_BASE_SECONDS="0.5",
        ) as (stack, offset_file, producer):
            # The URL Twilio is given (and signs) is the service's public one.
            stack.cfg.extra_env["KATFLOW_PUBLIC_BASE_URL"] = stack.url("notifications")
            stack.start("notifications")
            yield World(stack, offset_file, producer, EMAIL, PHONE, uuid.uuid4(), uuid.uuid4(), twilio)
    finally:
        twilio.stop()


async def test_a_text_goes_out_and_its_delivery_comes_back_signed(world: World) -> None:
    w = world
    [text] = await w.texted_integration_due()
    assert "follow-up session" in text
    [message] = w.twilio.texts()
    status_url = f"{w.url}/v1/sms/twilio/status"
    assert message.status_callback == status_url

    # Not signed by Twilio: refused, nothing changes.
    delivered = {
        "AccountSid": DEV_ACCOUNT_SID,
        "MessageSid": message.sid,
        "MessageStatus": "delivered",
        "To": PHONE,
    }
    assert w.twilio.post_signed(status_url, delivered, token="someone-elses-token").status == 401
    signature = RequestValidator(TOKEN).compute_signature(status_url, delivered)
    async with httpx.AsyncClient() as http:
        tampered = await http.post(
            status_url,
            content=urlencode({**delivered, "MessageStatus": "failed"}),
            headers={"X-Twilio-Signature": signature, "content-type": "application/x-www-form-urlencoded"},
        )
        unsigned = await http.post(status_url, data=delivered)
    assert (tampered.status_code, unsigned.status_code) == (401, 401)
    [before] = await w.deliveries()
    assert before["status"] == "sent"

    # Twilio's own callbacks: sent, then delivered; a retried callback changes nothing more.
    assert w.twilio.send_status(message.sid, "sent").status == 200
    token = str(uuid.uuid4())
    first = w.twilio.send_status(message.sid, "delivered", idempotency_token=token)
    assert (first.status, first.answer) == (200, '{"status":"delivered"}')
    again = w.twilio.send_status(message.sid, "delivered", idempotency_token=token)
    assert (again.status, again.answer) == (200, '{"status":"duplicate"}')
    [after] = await w.deliveries()
    assert (after["status"], after["template_id"]) == ("delivered", "integration_due.patient.sms.en")


async def test_inbound_stop_start_help_signed_by_twilio(world: World) -> None:
    w = world
    await w.contact()
    inbound = f"{w.url}/v1/sms/twilio/inbound"

    async def known() -> bool:  # the patient's number is on file before they text
        sql = "SELECT count(*) FROM recipients WHERE phone = $1"
        return bool(await w.stack.fetchval("notifications", sql, PHONE))

    assert await wait_for(known, within=30)

    forged = w.twilio.post_signed(
        inbound,
        {"AccountSid": DEV_ACCOUNT_SID, "MessageSid": "SM" + uuid.uuid4().hex, "From": PHONE, "Body": "STOP"},
        token="someone-elses-token",
    )
    assert forged.status == 401

    stop = w.twilio.send_inbound(inbound, PHONE, "STOP")
    assert stop.status == 200 and stop.headers["x-katflow-keyword"] == "opt_out"
    assert stop.headers["content-type"].startswith("text/xml") and "<Response>" in stop.answer
    replayed = w.twilio.post_signed(inbound, stop.params)  # Twilio retrying the same message
    assert replayed.headers["x-katflow-keyword"] == "duplicate"

    async def notice() -> bool:
        return any(m.subject == "Patient opted out of texts" for m in w.stack.sink.messages())

    assert await wait_for(notice, within=30)  # staff are told

    # Consent is revoked in katflow: the next message goes by email and no text is even tried.
    await w.publish(w.integration_due())

    async def emailed() -> bool:
        return any(EMAIL in m.rcpt_to for m in w.stack.sink.messages())

    assert await wait_for(emailed, within=30)
    assert w.twilio.requests == 0  # Twilio answers the keywords itself: no reply of katflow's either

    help_ = w.twilio.send_inbound(inbound, PHONE, "HELP")
    start = w.twilio.send_inbound(inbound, PHONE, "START")
    other = w.twilio.send_inbound(inbound, PHONE, "see you Tuesday")
    assert [c.headers["x-katflow-keyword"] for c in (help_, start, other)] == ["help", "opt_in", "other"]
    assert w.twilio.requests == 0


async def test_an_undelivered_text_falls_back_to_email(world: World) -> None:
    w = world
    assert await w.texted_integration_due()
    [message] = w.twilio.texts()
    # The carrier could not deliver it (Twilio's 30003: unreachable handset).
    callback = w.twilio.send_status(message.sid, "undelivered", error_code="30003")
    assert (callback.status, callback.answer) == (200, '{"status":"failed"}')

    async def emailed() -> bool:
        return any(EMAIL in m.rcpt_to for m in w.stack.sink.messages())

    assert await wait_for(emailed, within=30)  # the next channel
    deliveries = await w.deliveries()
    sms = [d for d in deliveries if d["channel"] == "sms"]
    assert [(d["status"], d["reason"], d["provider_id"]) for d in sms] == [
        ("failed", "sms_30003", message.sid)
    ]
