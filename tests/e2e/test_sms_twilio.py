"""SMS through Twilio, the notifications service as a real process against a local server that speaks
Twilio's Messages API (katflow_notifications.devtools.fake_twilio): texts go out with a status
callback, delivery states come back from signed callbacks, inbound STOP/START/HELP change consent,
and whatever is not signed with the account's auth token (X-Twilio-Signature) changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from katflow_notifications.devtools.fake_twilio import DEV_ACCOUNT_SID, FakeTwilio
from katflow_shared.contracts import ChannelConsent, Event, IntegrationDue, PatientContactUpdated
from katflow_shared.contracts.topics import producer_source
from katflow_shared.messaging.cloudevents import Envelope
from tests.conftest import RUN_ROOT
from tests.support.course import course_start
from tests.support.infra import Infra
from tests.support.stack import Stack, make_stack, wait_for

TOKEN = "e2e-twilio-auth-token"
ZONE = "America/Chicago"
PHONE = "+15557654321"
EMAIL = "e2e-twilio@example.org"


@dataclass
class World:
    stack: Stack
    twilio: FakeTwilio
    offset_file: Path
    producer: AIOKafkaProducer
    patient_id: uuid.UUID
    course_id: uuid.UUID

    @property
    def url(self) -> str:
        return self.stack.url("notifications")

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=float(self.offset_file.read_text() or 0))

    async def publish(self, event: Event) -> None:
        envelope = Envelope(event=event, source=producer_source(event.topic))
        await self.producer.send_and_wait(
            self.stack.topic(event.topic),
            value=envelope.body(),
            key=envelope.subject.encode(),
            headers=envelope.headers(),
        )

    async def contact(self) -> None:
        at = datetime.now(UTC)
        consent = ChannelConsent(granted=True, captured_at=at, method="web-form")
        await self.publish(
            PatientContactUpdated(
                patient_id=self.patient_id,
                given_name="Eve",
                family_name="Example",
                email=EMAIL,
                phone=PHONE,
                time_zone=ZONE,
                email_consent=consent,
                sms_consent=consent,
                updated_at=at,
            )
        )

    def integration_due(self) -> IntegrationDue:
        now = self.now()
        return IntegrationDue(
            course_id=self.course_id,
            patient_id=self.patient_id,
            session_id=uuid.uuid4(),
            dose_number=1,
            window_opens_at=now,
            window_closes_at=now + timedelta(hours=72),
        )

    async def deliveries(self) -> list[dict[str, object]]:
        async with httpx.AsyncClient() as http:
            url = f"{self.url}/v1/patients/{self.patient_id}/deliveries"
            answer: list[dict[str, object]] = (await http.get(url, headers=self.stack.auth_headers())).json()
            return answer


@pytest.fixture
async def world(infra: Infra) -> AsyncIterator[World]:
    twilio = FakeTwilio(DEV_ACCOUNT_SID, TOKEN).start()
    offset_file = RUN_ROOT / f"clock-{uuid.uuid4().hex[:8]}"
    offset_file.parent.mkdir(parents=True, exist_ok=True)
    # 12:00 in the patient's zone on a fixed day ahead (no quiet hours, whatever day the suite runs)
    noon = course_start("mon", ZONE, datetime.now(UTC).date()).replace(hour=12).astimezone(UTC)
    offset_file.write_text(str((noon - datetime.now(UTC)).total_seconds()))
    stack = await make_stack(
        infra,
        RUN_ROOT,
        KATFLOW_SMS_PROVIDER="twilio",
        KATFLOW_TWILIO_ACCOUNT_SID=DEV_ACCOUNT_SID,
        KATFLOW_TWILIO_AUTH_TOKEN=TOKEN,
        KATFLOW_TWILIO_API_BASE_URL=twilio.url,
        KATFLOW_CLOCK_OFFSET_FILE=str(offset_file),
        KATFLOW_RETRY_BASE_SECONDS="0.5",
        KATFLOW_TIMER_POLL_SECONDS="0.2",
    )
    # The URL Twilio is given (and signs) is the service's public one.
    stack.cfg.extra_env["KATFLOW_PUBLIC_BASE_URL"] = stack.url("notifications")
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    stack.start("notifications")
    try:
        yield World(stack, twilio, offset_file, producer, uuid.uuid4(), uuid.uuid4())
    finally:
        await producer.stop()
        stack.stop()
        twilio.stop()
        offset_file.unlink(missing_ok=True)


async def test_a_text_goes_out_and_its_delivery_comes_back_signed(world: World) -> None:
    w = world
    await w.contact()
    await w.publish(w.integration_due())

    async def sent() -> list[str]:
        return w.twilio.texts_to(PHONE)

    [text] = await wait_for(sent, within=60)
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
    await w.contact()
    await w.publish(w.integration_due())

    async def sent() -> list[str]:
        return w.twilio.texts_to(PHONE)

    assert await wait_for(sent, within=60)
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
