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
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from katflow_notifications.devtools.fake_provider import FakeProvider, signed
from katflow_shared.contracts import (
    topics,
)
from tests.support.conformance import assert_conformant
from tests.support.event_world import ZONE, EventWorld, event_stack
from tests.support.infra import Infra
from tests.support.patient_events import appointment_rescheduled, appointment_scheduled, cadence_stretched
from tests.support.stack import read_topic, wait_for

SECRET = "whsec_" + base64.b64encode(b"e2e-notifications-webhook-secret").decode()
PHONE = "+15557654321"
EMAIL = "e2e-patient@example.org"


@dataclass
class World(EventWorld):
    provider: FakeProvider

    async def post_signed(self, path: str, payload: dict[str, object]) -> httpx.Response:
        body, headers = signed(payload, SECRET)
        async with httpx.AsyncClient(timeout=10) as http:
            return await http.post(f"{self.url}{path}", content=body, headers=headers)

    async def texts(self, count: int, within: float = 60) -> list[str]:
        async def enough() -> list[str] | None:
            found = self.provider.texts_to(PHONE)
            return found if len(found) >= count else None

        return list(await wait_for(enough, within=within) or self.provider.texts_to(PHONE))


@pytest.fixture
async def world(infra: Infra) -> AsyncIterator[World]:
    provider = FakeProvider().start()
    try:
        async with event_stack(
            infra,
            KATFLOW_SMS_BASE_URL=provider.url,
            KATFLOW_SMS_API_KEY="e2e-key",
            KATFLOW_SMS_WEBHOOK_SECRET=SECRET,
            KATFLOW_STAFF_WEBHOOK_URLS=json.dumps({"clinical-alerts": f"{provider.url}/hooks/clinical"}),
            KATFLOW_RETRY_BASE_SECONDS="0.5",
        ) as (stack, offset_file, producer):
            stack.start("notifications")
            yield World(stack, offset_file, producer, EMAIL, PHONE, uuid.uuid4(), uuid.uuid4(), provider)
    finally:
        provider.stop()


async def test_retried_sms_redelivery_callback_and_events_on_kafka(world: World) -> None:
    w = world
    await w.contact()
    w.provider.script("/messages", 429, 500)
    envelope = await w.publish(w.integration_due())
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
    await w.publish(w.integration_due())

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
    await w.publish(w.integration_due())

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
    await w.publish(w.integration_due())

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
    booked = appointment_scheduled(w, start, zone=ZONE)
    await w.publish(booked)
    new_start = start + timedelta(days=2)
    await w.publish(appointment_rescheduled(booked, new_start))
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
    await w.publish(cadence_stretched(w, 2, appointment))
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
