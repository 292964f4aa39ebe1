"""The notifications service as a real process: events from Kafka, SMS through a local HTTP provider,
email through a real SMTP server, signed webhooks in, server-sent events out, events back on Kafka.

Events are produced straight onto the topics (the scheduling service is built elsewhere), and the
service's clock is moved through KATFLOW_CLOCK_OFFSET_FILE so reminders fire without waiting.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from katflow_notifications.devtools.fake_provider import FakeProvider, signed
from katflow_shared.contracts import (
    AppointmentRescheduled,
    AppointmentScheduled,
    CadenceStretched,
    ChannelConsent,
    Event,
    IntegrationDue,
    PatientContactUpdated,
    topics,
)
from katflow_shared.contracts.common import AppointmentKind, StretchReason
from katflow_shared.contracts.topics import producer_source
from katflow_shared.messaging.cloudevents import Envelope
from tests.conftest import RUN_ROOT
from tests.support.conformance import assert_conformant
from tests.support.course import course_start
from tests.support.infra import Infra
from tests.support.stack import Stack, make_stack, read_topic, wait_for

SECRET = "whsec_" + base64.b64encode(b"e2e-notifications-webhook-secret").decode()
ZONE = "America/Chicago"
PHONE = "+15557654321"
EMAIL = "e2e-patient@example.org"


@dataclass
class World:
    stack: Stack
    provider: FakeProvider
    offset_file: Path
    producer: AIOKafkaProducer
    patient_id: uuid.UUID
    course_id: uuid.UUID

    @property
    def url(self) -> str:
        return self.stack.url("notifications")

    def now(self) -> datetime:
        """The service's clock (wall clock + offset)."""
        return datetime.now(UTC) + timedelta(seconds=float(self.offset_file.read_text() or 0))

    def jump_to(self, instant: datetime) -> None:
        self.offset_file.write_text(str((instant - datetime.now(UTC)).total_seconds()))

    async def publish(self, event: Event, envelope: Envelope | None = None) -> Envelope:
        envelope = envelope or Envelope(event=event, source=producer_source(event.topic))
        await self.producer.send_and_wait(
            self.stack.topic(event.topic),
            value=envelope.body(),
            key=envelope.subject.encode(),
            headers=envelope.headers(),
        )
        return envelope

    async def contact(self, *, sms: bool = True, email: bool = True) -> None:
        at = datetime.now(UTC)
        await self.publish(
            PatientContactUpdated(
                patient_id=self.patient_id,
                given_name="Eve",
                family_name="Example",
                email=EMAIL,
                phone=PHONE,
                time_zone=ZONE,
                email_consent=ChannelConsent(granted=email, captured_at=at, method="web-form"),
                sms_consent=ChannelConsent(granted=sms, captured_at=at, method="web-form"),
                updated_at=at,
            )
        )

        async def landed() -> int:
            sql = "SELECT count(*) FROM recipients WHERE patient_id = $1"
            return int(await self.stack.fetchval("notifications", sql, self.patient_id))

        # the contact topic is consumed apart from the others: a text or an event arriving before the
        # details did finds no patient (a fixed one-second sleep lost that race on a busy machine)
        assert await wait_for(landed, within=30), "the contact details never reached notifications"

    async def post_signed(self, path: str, payload: dict[str, object]) -> httpx.Response:
        body, headers = signed(payload, SECRET)
        async with httpx.AsyncClient(timeout=10) as http:
            return await http.post(f"{self.url}{path}", content=body, headers=headers)

    async def texts(self, count: int, within: float = 60) -> list[str]:
        async def enough() -> list[str] | None:
            found = self.provider.texts_to(PHONE)
            return found if len(found) >= count else None

        return list(await wait_for(enough, within=within) or self.provider.texts_to(PHONE))


def local_noon() -> datetime:
    """12:00 in the patient's zone (so quiet hours never interfere with the test) on a fixed day: the
    first Monday of June next year, ahead of the real date and days away from a daylight-saving
    change, a month end or a year end, whatever day the suite runs."""
    return course_start("mon", ZONE, datetime.now(UTC).date()).replace(hour=12).astimezone(UTC)


@pytest.fixture
async def world(infra: Infra) -> AsyncIterator[World]:
    provider = FakeProvider().start()
    offset_file = RUN_ROOT / f"clock-{uuid.uuid4().hex[:8]}"
    offset_file.parent.mkdir(parents=True, exist_ok=True)
    offset_file.write_text("0")
    stack = await make_stack(
        infra,
        RUN_ROOT,
        KATFLOW_SMS_BASE_URL=provider.url,
        KATFLOW_SMS_API_KEY="e2e-key",
        KATFLOW_SMS_WEBHOOK_SECRET=SECRET,
        KATFLOW_STAFF_WEBHOOK_URLS=json.dumps({"clinical-alerts": f"{provider.url}/hooks/clinical"}),
        KATFLOW_CLOCK_OFFSET_FILE=str(offset_file),
        KATFLOW_RETRY_BASE_SECONDS="0.5",
        KATFLOW_TIMER_POLL_SECONDS="0.2",
    )
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    w = World(stack, provider, offset_file, producer, uuid.uuid4(), uuid.uuid4())
    w.jump_to(local_noon())
    stack.start("notifications")
    try:
        yield w
    finally:
        await producer.stop()
        stack.stop()
        provider.stop()
        offset_file.unlink(missing_ok=True)


def integration_due(w: World) -> IntegrationDue:
    now = w.now()
    return IntegrationDue(
        course_id=w.course_id,
        patient_id=w.patient_id,
        session_id=uuid.uuid4(),
        dose_number=1,
        window_opens_at=now,
        window_closes_at=now + timedelta(hours=72),
    )


async def test_retried_sms_redelivery_callback_and_events_on_kafka(world: World) -> None:
    w = world
    await w.contact()
    w.provider.script("/messages", 429, 500)
    envelope = await w.publish(integration_due(w))
    await w.publish(envelope.event, envelope)  # the same record twice: no second message
    [text] = await w.texts(1)
    assert "follow-up session" in text
    await asyncio.sleep(2)
    assert [r.status for r in w.provider.requests_to("/messages")] == [429, 500, 200]
    assert len(w.provider.texts()) == 1

    provider_id = w.provider.texts()[0]["id"]
    resp = await w.post_signed("/v1/sms/status", {"id": provider_id, "status": "delivered"})
    assert resp.json() == {"status": "delivered"}
    async with httpx.AsyncClient() as http:
        url = f"{w.url}/v1/patients/{w.patient_id}/deliveries"
        history = (await http.get(url, headers=w.stack.auth_headers())).json()
    [sms] = history
    assert (sms["status"], sms["attempts"], sms["template_id"]) == (
        "delivered",
        3,
        "integration_due.patient.sms.en",
    )

    records = await read_topic(
        w.stack.infra.kafka_bootstrap,
        w.stack.topic(topics.NOTIFICATIONS),
        lambda rs: any(json.loads(r.value).get("channel") == "sms" for r in rs),
    )
    sent = [
        json.loads(r.value)
        for r in records
        if dict(r.headers)["ce_type"] == b"io.katflow.NotificationSent.v1"
    ]
    assert [s["delivery_id"] for s in sent if s["channel"] == "sms"] == [sms["id"]]


async def test_permanent_sms_failure_falls_back_to_email_and_is_announced(world: World) -> None:
    """A recovered failure is not announced; a message that reached nobody is, once, with a staff task."""
    w = world
    await w.contact()
    w.provider.script("/messages", 400)
    await w.publish(integration_due(w))

    async def fallback_mail() -> bool:
        return any(EMAIL in m.rcpt_to for m in w.stack.sink.messages())

    assert await wait_for(fallback_mail, within=60)
    assert [m.subject for m in w.stack.sink.messages() if EMAIL in m.rcpt_to] == [
        "Time to book your follow-up session"
    ]

    # another patient (today's text allowance of the first is used up), texts only: nobody is reached
    w.patient_id, w.course_id = uuid.uuid4(), uuid.uuid4()
    await w.contact(email=False)
    w.provider.script("/messages", 400)
    await w.publish(integration_due(w))

    async def staff_task() -> bool:
        return any("intake@clinic.example" in m.rcpt_to for m in w.stack.sink.messages())

    assert await wait_for(staff_task, within=60)
    records = await read_topic(
        w.stack.infra.kafka_bootstrap,
        w.stack.topic(topics.NOTIFICATIONS),
        lambda rs: any(dict(r.headers)["ce_type"] == b"io.katflow.NotificationFailed.v1" for r in rs),
    )
    failed = [
        json.loads(r.value)
        for r in records
        if dict(r.headers)["ce_type"] == b"io.katflow.NotificationFailed.v1"
    ]
    assert [(f["channel"], f["error_code"]) for f in failed] == [("sms", "sms_400_invalid_number")]

    # every record on the workflow topics parses with the CloudEvents SDK and matches its schema
    seen = await assert_conformant(world.stack)
    assert {"NotificationFailed"} <= set(seen)


async def test_stop_via_inbound_webhook_and_the_staff_feed_stream(world: World) -> None:
    w = world
    await w.contact()
    events: list[dict[str, object]] = []

    async def listen() -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(30, read=30)) as http:
            url = f"{w.url}/v1/staff/coord-1/feed/stream"
            async with http.stream("GET", url, headers=w.stack.person_headers("coord-1")) as resp:
                assert resp.headers["content-type"].startswith("text/event-stream")
                async for line in resp.aiter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line.removeprefix("data: ")))
                        return

    listener = asyncio.create_task(listen())
    await asyncio.sleep(1)
    resp = await w.post_signed("/v1/sms/inbound", {"id": "in-1", "from": PHONE, "text": "STOP"})
    assert resp.json() == {"status": "opt_out"}
    [confirmation] = await w.texts(1)
    assert "unsubscribed" in confirmation
    await asyncio.wait_for(listener, 30)
    assert events[0]["title"] == "Patient opted out of texts"  # pushed live over SSE

    async def notice() -> bool:
        return any(m.subject == "Patient opted out of texts" for m in w.stack.sink.messages())

    assert await wait_for(notice, within=30)
    await w.publish(integration_due(w))

    async def emailed() -> bool:
        return any(EMAIL in m.rcpt_to for m in w.stack.sink.messages())

    assert await wait_for(emailed, within=30)
    assert len(w.provider.texts_to(PHONE)) == 1  # no further texts to that number

    assert (await w.post_signed("/v1/sms/inbound", {"from": PHONE, "text": "START"})).json() == {
        "status": "opt_in"
    }
    texts = await w.texts(2)
    assert "texts again" in texts[1]


async def test_reminder_fires_at_its_time_and_a_reschedule_moves_it(world: World) -> None:
    w = world
    await w.contact(email=False)
    base = w.now()
    start = base + timedelta(days=3)
    booked = AppointmentScheduled(
        appointment_id=uuid.uuid4(),
        course_id=w.course_id,
        patient_id=w.patient_id,
        kind=AppointmentKind.CONSULTATION,
        clinician_id="clin-1",
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        patient_time_zone=ZONE,
    )
    await w.publish(booked)
    new_start = start + timedelta(days=2)
    await w.publish(
        AppointmentRescheduled(
            appointment_id=booked.appointment_id,
            course_id=w.course_id,
            patient_id=w.patient_id,
            kind=AppointmentKind.CONSULTATION,
            previous_starts_at=start,
            starts_at=new_start,
            ends_at=new_start + timedelta(hours=1),
            patient_time_zone=ZONE,
        )
    )
    first = await w.texts(2)  # booking confirmation and the move, by text (email not consented)
    assert "confirmed" in first[0].lower() and "moved" in first[1]

    w.jump_to(start - timedelta(hours=24) + timedelta(seconds=5))  # the old 24 h reminder's time
    await asyncio.sleep(4)
    w.jump_to(start - timedelta(hours=2) + timedelta(seconds=5))  # and the old 2 h one
    await asyncio.sleep(4)
    assert len(w.provider.texts_to(PHONE)) == 2  # the old reminders never fire

    w.jump_to(new_start - timedelta(hours=24) + timedelta(seconds=5))
    texts = await w.texts(3, within=30)
    assert texts[2].startswith("Care Team: Reminder: appointment on")
    # every text carries the message's own page link, and still fits one segment
    assert all(re.search(r"https?://\S+/p/[A-Za-z0-9_-]{32}(?![\w-])", t) for t in texts), texts
    assert all(len(t) <= 160 for t in texts), texts
    local = new_start.astimezone(ZoneInfo(ZONE))
    assert f"{local:%H:%M}" in texts[2]


async def test_a_stretched_cadence_on_kafka_reaches_the_care_team_by_email_and_feed(world: World) -> None:
    """Scheduling's CadenceStretched, consumed from its topic: an email to each coordinator and
    clinician in the SMTP server and an item in their staff feeds (neither waits for quiet hours)."""
    w = world
    appointment = uuid.uuid4()
    await w.publish(
        CadenceStretched(
            course_id=w.course_id,
            patient_id=w.patient_id,
            appointment_id=appointment,
            dose_number=2,
            planned_day=date(2026, 12, 10),
            booked_day=date(2026, 12, 14),
            gap_days=5,
            max_days_between=4,
            reason=StretchReason.NO_FREE_DAY,
        )
    )
    subject = "Course cadence stretched: a visit is booked late"

    async def mails() -> list[Any] | None:
        found = [m for m in w.stack.sink.messages() if m.subject == subject]
        return found if len(found) >= 2 else None

    found = await wait_for(mails, within=60) or []
    assert sorted(m.rcpt_to for m in found) == [("clinician@clinic.example",), ("intake@clinic.example",)]
    body = found[0].message.get_body(("plain",)).get_content().splitlines()
    assert body[:3] == [
        "Dose 2 is booked 5 days after the one before; the protocol allows at most 4.",
        "Planned: Thursday 10 December 2026",
        "Booked: Monday 14 December 2026",
    ]
    assert f"Appointment: {appointment}" in body and f"Course: {w.course_id}" in body

    async def feed(staff_id: str) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=10) as http:
            url = f"{w.url}/v1/staff/{staff_id}/feed"
            items = (await http.get(url, headers=w.stack.person_headers(staff_id))).json()
        return [i for i in items if i["notification"] == "cadence_stretched"]

    for staff_id in ("coord-1", "clin-1"):
        [item] = await wait_for(lambda staff_id=staff_id: feed(staff_id), within=30)
        assert (item["title"], item["course_id"], item["urgent"]) == (subject, str(w.course_id), False)
        assert "Booked: Monday 14 December 2026" in item["body"]
    assert w.provider.texts() == []  # nothing to the patient
