"""Notifications against real PostgreSQL, a real SMTP server and a real local HTTP server playing
the SMS provider (and the staff/integrator webhook receivers). Time is a FixedClock moved by hand."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from katflow_notifications import bootstrap
from katflow_notifications.adapters.http_sms import HttpSms
from katflow_notifications.adapters.memory_channel import MemoryChannel
from katflow_notifications.adapters.postgres_queue import DELIVERIES_CHANNEL
from katflow_notifications.devtools.fake_provider import FakeProvider, signed
from katflow_notifications.domain.signing import verify
from katflow_notifications.domain.templates import Rendered
from katflow_notifications.entrypoints import consumer, feed, http, sms
from katflow_notifications.entrypoints.deps import NotificationsDeps
from katflow_notifications.ports import Channel, ChannelPermanent, ChannelTransient, Outbound
from katflow_notifications.service_layer.dispatch import Dispatcher
from katflow_notifications.service_layer.inbound import InboundTexts
from katflow_notifications.service_layer.planning import Planner
from katflow_notifications.service_layer.reminders import Reminders
from katflow_notifications.service_layer.workflow_events import WorkflowEvents
from katflow_notifications.settings import IntegratorEndpoint, NotificationsSettings
from katflow_shared import audit, timers
from katflow_shared.auth import Authenticator
from katflow_shared.clock import FixedClock
from katflow_shared.contracts import (
    AppointmentScheduled,
    ClinicianUpdated,
    ConsultationRequested,
    Event,
    IntegrationDue,
    MonitoringCheckDue,
    SessionAdministered,
    UrgentReviewRequired,
)
from katflow_shared.contracts.common import AppointmentKind, MonitoringCheck, Route
from katflow_shared.db import create_pool, migrate
from katflow_shared.messaging import outbox
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.consumer import apply
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.messaging.errors import PermanentError
from katflow_shared.roles import CARE_TEAM, ApiKey, Role, hash_api_key
from katflow_shared.runtime import RequestContext, Runtime
from katflow_shared.timers import TimerWorker
from katflow_shared.treatment_protocols import load_protocols
from katflow_shared.wakeup import Announcer
from katflow_tools.databases import scratch_database
from katflow_tools.smtp_sink import SmtpSink
from tests.support.infra import Infra
from tests.support.patient_events import (
    appointment_scheduled,
    cadence_stretched,
    consultation_requested,
    contact_updated,
    integration_due,
)
from tests.support.stack import wait_for

SECRET = "whsec_" + base64.b64encode(b"integration-test-sms-secret").decode()
INTEGRATOR_SECRET = "whsec_" + base64.b64encode(b"integration-test-integrator-secret").decode()
PHONE = "+15551230000"
EMAIL = "pat@example.org"
MONDAY_10_CHICAGO = datetime(2024, 6, 3, 15, 0, tzinfo=UTC)
GROUP = "katflow-notifications-workflow"
STAFF_KEY = "kfk_test_notifications_integration_staff_key"
# Keys of people in the staff directory: the key's name is the subject, the staff id.
PERSON_KEYS = {
    "ther-1": ("kfk_test_notifications_ther_1", Role.THERAPIST),
    "clin-1": ("kfk_test_notifications_clin_1", Role.CLINICIAN),
    "admin-1": ("kfk_test_notifications_admin_1", Role.ADMIN),
    "clin-9": ("kfk_test_notifications_clin_9", Role.CLINICIAN),  # in no directory file: see issue 30
}


@dataclass
class Harness:
    settings: NotificationsSettings
    pool: asyncpg.Pool
    clock: FixedClock
    sink: SmtpSink
    provider: FakeProvider
    handlers: WorkflowEvents
    dispatcher: Dispatcher
    timers: TimerWorker
    app: FastAPI
    patient_id: uuid.UUID = field(default_factory=uuid.uuid4)
    course_id: uuid.UUID = field(default_factory=uuid.uuid4)

    # --- inputs
    async def handle(self, event: Event, envelope: Envelope | None = None, inbox: bool = True) -> Envelope:
        """Handle an event as the consumer does (inbox row and effects together); ``inbox=False``: as a
        consumer group that has not seen it, i.e. past the inbox."""
        envelope = envelope or Envelope(event=event, source="/test", time=self.clock.now())
        handler = consumer.handlers(self.handlers)[type(event)]
        group = GROUP if inbox else f"{GROUP}-{uuid.uuid4()}"
        await apply(self.dispatcher.units, group, handler, envelope)
        return envelope

    async def contact(
        self,
        *,
        email: bool = True,
        sms: bool = True,
        zone: str = "America/Chicago",
        at: datetime | None = None,
    ) -> None:
        at = at or self.clock.now()
        await self.handle(
            contact_updated(
                self.patient_id, at, time_zone=zone, email_address=EMAIL, phone=PHONE, email=email, sms=sms
            )
        )

    def integration_due(self) -> IntegrationDue:
        return integration_due(self, self.clock.now())

    def session_administered(
        self, protocol_version: str, session_id: uuid.UUID | None = None, clinician_id: str | None = None
    ) -> SessionAdministered:
        """The first intranasal dose, given two hours ago, its monitoring just ended, no adverse events."""
        now = self.clock.now()
        return SessionAdministered(
            session_id=session_id or uuid.uuid4(),
            appointment_id=uuid.uuid4(),
            course_id=self.course_id,
            patient_id=self.patient_id,
            route=Route.INTRANASAL,
            dose_number=1,
            protocol_version=protocol_version,
            administered_at=now - timedelta(hours=2),
            monitoring_ended_at=now,
            adverse_events=False,
            clinician_id=clinician_id,
        )

    def consultation_requested(self) -> ConsultationRequested:
        return consultation_requested(self.course_id, self.patient_id, at=self.clock.now())

    def appointment(
        self,
        starts_at: datetime,
        kind: AppointmentKind = AppointmentKind.CONSULTATION,
        zone: str = "America/Chicago",
        appointment_id: uuid.UUID | None = None,
    ) -> AppointmentScheduled:
        return appointment_scheduled(self, starts_at, kind, zone=zone, appointment_id=appointment_id)

    # --- time and work
    async def dispatch(self) -> int:
        total = 0
        while handled := await self.dispatcher.dispatch_once():
            total += handled
        return total

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.timers.fire_due()
        await self.dispatch()

    # --- outputs
    async def deliveries(self, **where: Any) -> list[asyncpg.Record]:
        clauses = " AND ".join(f"{k} = ${i}" for i, k in enumerate(where, 1)) or "true"
        sql = f"SELECT * FROM deliveries WHERE {clauses} ORDER BY created_at, attempts DESC, fallback_of NULLS FIRST"  # noqa: S608 E501 - test-only
        return list(await self.pool.fetch(sql, *where.values()))

    async def events(self, name: str) -> list[dict[str, Any]]:
        rows = await self.pool.fetch("SELECT headers, payload FROM outbox ORDER BY id")
        found = []
        for row in rows:
            headers = dict(json.loads(row["headers"]))
            if headers["ce_type"] == f"io.katflow.{name}.v1":
                found.append(json.loads(bytes(row["payload"])))
        return found

    def mail(self, to: str | None = None) -> list[Any]:
        return [m for m in self.sink.messages() if to is None or to in m.rcpt_to]

    def client(self, authenticated: bool = True, person: str | None = None) -> httpx.AsyncClient:
        """An HTTP client for the routes: the care team's API key, ``person``'s own key (PERSON_KEYS),
        or none when ``authenticated`` is False."""
        key = PERSON_KEYS[person][0] if person else STAFF_KEY
        headers = {"Authorization": f"Bearer {key}"} if authenticated else {}
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://notifications", headers=headers)


@contextlib.asynccontextmanager
async def make_harness(infra: Infra, **overrides: Any) -> AsyncIterator[Harness]:
    async with scratch_database(infra.pg_admin_dsn, "notif_it") as db:
        pool = await create_pool(db.dsn, 6)
        queue_pool = await create_pool(db.dsn, 2, generic_plans=True)  # claims and settles, as deployed
        sink = SmtpSink().start()
        provider = FakeProvider().start()
        try:
            await migrate(pool, ["katflow_shared", "katflow_notifications"])
            settings = NotificationsSettings(
                environment="test",
                database_url=db.dsn,
                smtp_port=sink.port,
                sms_base_url=provider.url,
                sms_api_key="test-key",
                sms_webhook_secret=SECRET,
                staff_webhook_urls={
                    "clinical-alerts": f"{provider.url}/hooks/clinical",
                    "care-team": f"{provider.url}/hooks/care",
                },
                integrator_webhooks=[
                    IntegratorEndpoint(
                        id="ehr",
                        url=f"{provider.url}/integrator",
                        secret=INTEGRATOR_SECRET,
                        event_types=["AppointmentScheduled"],
                    )
                ],
                feed_stream_max_seconds=1.0,
                api_keys={
                    hash_api_key(STAFF_KEY): ApiKey(name="it-staff", roles=list(CARE_TEAM)),
                    **{hash_api_key(k): ApiKey(name=who, roles=[r]) for who, (k, r) in PERSON_KEYS.items()},
                },
                feed_poll_seconds=0.1,
                **overrides,
            )
            clock = FixedClock(overrides.pop("start", MONDAY_10_CHICAGO))
            dispatching, timing = Announcer(DELIVERIES_CHANNEL), Announcer(timers.CHANNEL)
            emitter = Emitter(settings, Announcer(outbox.CHANNEL))
            runtime = Runtime(settings, pool, None, emitter, clock, queue_pool, timing)
            templates = bootstrap.default_registry(settings.default_locale)
            planner = Planner(bootstrap.load_directory(settings), templates, settings, clock, dispatching)
            reminders: Reminders = bootstrap.reminders(settings, planner, clock)
            dispatcher = bootstrap.dispatcher(runtime, settings, planner, templates)
            app = FastAPI()
            for router in (http.router, sms.router, feed.router, audit.router):
                app.include_router(router)
            app.add_middleware(RequestContext)  # each request's audit record, as the service writes it
            app.state.runtime = runtime
            app.state.katflow_auth = Authenticator(settings)
            app.state.notifications = NotificationsDeps(settings, planner, InboundTexts(planner))
            yield Harness(
                settings,
                pool,
                clock,
                sink,
                provider,
                WorkflowEvents(planner, reminders, bootstrap.rems_form_due_days(load_protocols())),
                dispatcher,
                TimerWorker(runtime, reminders.timer_handlers(), announcer=timing),
                app,
            )
            for close in dispatcher.on_close:
                await close()
        finally:
            await queue_pool.close()
            await pool.close()
            sink.stop()
            provider.stop()


@pytest.fixture
async def h(infra: Infra) -> AsyncIterator[Harness]:
    async with make_harness(infra) as harness:
        yield harness


async def post_signed(h: Harness, path: str, payload: dict[str, Any], **kw: Any) -> httpx.Response:
    body, headers = signed(payload, SECRET, **kw)
    async with h.client(authenticated=False) as client:  # the signature is the provider's credential
        return await client.post(path, content=body, headers=headers)


# --------------------------------------------------------------------------- SMS retries and fallback


async def test_provider_429_then_500_then_200_sends_one_text_retried(h: Harness) -> None:
    await h.contact()
    h.provider.script("/messages", 429, 500)
    await h.handle(h.integration_due())
    await h.dispatch()
    [text] = await h.deliveries(channel="sms")
    assert (text["status"], text["last_error"]) == ("queued", "sms_429_rate_limited")
    assert text["next_attempt_at"] == h.clock.now() + timedelta(
        seconds=2
    )  # max(backoff 2 s, Retry-After 1 s)
    await h.advance(timedelta(seconds=2))
    await h.advance(timedelta(seconds=4))
    calls = h.provider.requests_to("/messages")
    assert [c.status for c in calls] == [429, 500, 200]
    assert len({c.headers["idempotency-key"] for c in calls}) == 1  # the same message each time
    assert h.provider.texts_to(PHONE) and len(h.provider.texts()) == 1
    [text] = await h.deliveries(channel="sms")
    assert (text["status"], text["attempts"]) == ("sent", 3)
    outcomes = await h.pool.fetch(
        "SELECT outcome FROM delivery_attempts WHERE delivery_id = $1 ORDER BY attempt", text["id"]
    )
    assert [r["outcome"] for r in outcomes] == ["transient", "transient", "accepted"]
    [sent] = [e for e in await h.events("NotificationSent") if e["channel"] == "sms"]
    assert sent["delivery_id"] == str(text["id"])
    assert sent["template_id"] == "integration_due.patient.sms.en" and sent["template_version"] == 1
    assert await h.events("NotificationFailed") == [] and h.mail(EMAIL) == []


async def test_provider_400_falls_back_to_email_and_is_not_announced_as_failed(h: Harness) -> None:
    await h.contact()
    h.provider.script("/messages", 400)
    await h.handle(h.integration_due())
    await h.dispatch()
    sms_row, email_row = await h.deliveries(patient_id=h.patient_id)
    assert (sms_row["channel"], sms_row["status"], sms_row["last_error"]) == (
        "sms",
        "failed",
        "sms_400_invalid_number",
    )
    assert (email_row["channel"], email_row["status"], email_row["fallback_of"]) == (
        "email",
        "sent",
        sms_row["id"],
    )
    assert await h.events("NotificationFailed") == []  # the email reached the patient
    [mail] = h.mail(EMAIL)
    assert mail.subject == "Time to book your follow-up session"
    assert {e["channel"] for e in await h.events("NotificationSent")} == {
        "email",
        "feed",
    }  # patient, therapist
    assert h.mail("intake@clinic.example") == []  # the patient was reached: no staff task


async def test_no_consented_channel_left_becomes_a_staff_task(h: Harness) -> None:
    await h.contact(email=False, sms=True)
    h.provider.script("/messages", 400)
    await h.handle(h.integration_due())
    await h.dispatch()
    statuses = [(d["channel"], d["status"], d["reason"]) for d in await h.deliveries(patient_id=h.patient_id)]
    assert statuses == [
        ("sms", "failed", "sms_400_invalid_number"),
        ("email", "suppressed", "no_email_consent"),
    ]
    [task] = h.mail("intake@clinic.example")
    assert task.subject == "Message delivery failed"
    assert "sms_400_invalid_number" in task.message.get_content() and PHONE not in task.message.get_content()
    tasks = await h.pool.fetch("SELECT staff_id FROM feed_items WHERE notification = 'delivery_failed'")
    assert [r["staff_id"] for r in tasks] == ["coord-1"]
    [sms_row, _] = await h.deliveries(patient_id=h.patient_id)
    [failed] = await h.events("NotificationFailed")  # once, naming the delivery that failed
    assert (failed["delivery_id"], failed["channel"], failed["error_code"]) == (
        str(sms_row["id"]),
        "sms",
        "sms_400_invalid_number",
    )
    assert failed["course_id"] == str(h.course_id) and failed["template_id"] == sms_row["template_id"]


async def test_text_too_long_for_one_segment_falls_back_to_email(infra: Infra) -> None:
    async with make_harness(infra, portal_url="https://portal.clinic.example/" + "x" * 120) as h:
        await h.contact()
        await h.handle(h.integration_due())
        await h.dispatch()
        sms_row, email_row = await h.deliveries(patient_id=h.patient_id)
        assert (sms_row["status"], sms_row["last_error"]) == ("failed", "sms_too_long")
        assert email_row["status"] == "sent" and h.provider.requests_to("/messages") == []


# --------------------------------------------------------------------------- callbacks


async def test_delivery_callback_marks_delivered_and_replays_change_nothing(h: Harness) -> None:
    await h.contact()
    await h.handle(h.integration_due())
    await h.dispatch()
    [text] = await h.deliveries(channel="sms")
    provider_id = h.provider.texts()[0]["id"]
    assert text["provider_id"] == provider_id and text["status"] == "sent"

    resp = await post_signed(
        h, "/v1/sms/status", {"id": provider_id, "status": "delivered"}, webhook_id="cb-1"
    )
    assert resp.status_code == 200 and resp.json() == {"status": "delivered"}
    [text] = await h.deliveries(channel="sms")
    assert text["status"] == "delivered" and text["delivered_at"] == h.clock.now()

    replay = await post_signed(
        h, "/v1/sms/status", {"id": provider_id, "status": "failed"}, webhook_id="cb-1"
    )
    assert replay.json() == {"status": "duplicate"}
    late_failure = await post_signed(h, "/v1/sms/status", {"id": provider_id, "status": "failed"})
    assert late_failure.json() == {"status": "ignored"}  # delivered is final
    assert (await h.deliveries(channel="sms"))[0]["status"] == "delivered"


async def test_undelivered_callback_fails_and_falls_back(h: Harness) -> None:
    await h.contact()
    await h.handle(h.integration_due())
    await h.dispatch()
    [text] = await h.deliveries(channel="sms")
    resp = await post_signed(
        h, "/v1/sms/status", {"reference": str(text["id"]), "status": "undelivered", "error_code": "30003"}
    )
    assert resp.json() == {"status": "failed"}
    await h.dispatch()
    [text] = await h.deliveries(channel="sms")
    assert (text["status"], text["last_error"]) == ("failed", "sms_30003")
    assert [m.subject for m in h.mail(EMAIL)] == ["Time to book your follow-up session"]
    assert await h.events("NotificationFailed") == []  # recovered by the email


@pytest.mark.parametrize("case", ["unsigned", "bad-signature", "stale", "non-ascii-signature"])
async def test_unsigned_or_stale_callbacks_are_rejected(h: Harness, case: str) -> None:
    """A non-ASCII signature was a 500 (hmac.compare_digest refuses non-ASCII str)."""
    payload = {"id": "SMx", "status": "delivered"}
    async with h.client(authenticated=False) as client:
        if case == "unsigned":
            resp = await client.post("/v1/sms/status", json=payload)
        else:
            stamp = int(datetime.now(UTC).timestamp()) - (600 if case == "stale" else 0)
            body, headers = signed(payload, SECRET, timestamp=stamp)
            if case == "bad-signature":
                body = body.replace(b"delivered", b"failed")
            sent: dict[str, str | bytes] = {**headers}
            if case == "non-ascii-signature":
                sent["webhook-signature"] = (
                    "v1,é".encode("latin-1") + headers["webhook-signature"][3:].encode()
                )
            resp = await client.post("/v1/sms/status", content=body, headers=sent)
    assert resp.status_code == 401
    assert await h.pool.fetchval("SELECT count(*) FROM inbound_webhooks") == 0


# --------------------------------------------------------------------------- inbound STOP / START / HELP


async def test_stop_start_and_help_through_the_inbound_webhook(h: Harness) -> None:
    await h.contact()
    resp = await post_signed(
        h, "/v1/sms/inbound", {"id": "in-1", "from": PHONE, "to": "+15550100000", "text": " Stop "}
    )
    assert resp.json() == {"status": "opt_out"}
    await h.dispatch()
    [confirmation] = h.provider.texts_to(PHONE)
    assert "unsubscribed" in confirmation and "START" in confirmation
    [notice] = h.mail("intake@clinic.example")
    assert (
        notice.subject == "Patient opted out of texts" and str(h.patient_id) in notice.message.get_content()
    )
    assert PHONE not in notice.message.get_content()

    # No further texts to that number: an SMS-first message goes by email instead.
    await h.handle(h.integration_due())
    await h.dispatch()
    assert len(h.provider.texts_to(PHONE)) == 1
    assert [d["reason"] for d in await h.deliveries(patient_id=h.patient_id, channel="sms")][
        -1
    ] == "opted_out"
    assert [m.subject for m in h.mail(EMAIL)] == ["Time to book your follow-up session"]

    # An older intake record arriving late does not undo the STOP.
    await h.contact(at=h.clock.now() - timedelta(hours=1))
    await h.handle(h.integration_due())
    await h.dispatch()
    assert len(h.provider.texts_to(PHONE)) == 1

    # HELP is answered even while opted out; START restores texts.
    assert (await post_signed(h, "/v1/sms/inbound", {"from": PHONE, "text": "HELP"})).json() == {
        "status": "help"
    }
    assert (await post_signed(h, "/v1/sms/inbound", {"from": PHONE, "text": "start"})).json() == {
        "status": "opt_in"
    }
    await h.advance(timedelta(minutes=1))
    texts = h.provider.texts_to(PHONE)
    assert len(texts) == 3 and "Help" in texts[1] and "texts again" in texts[2]
    await h.advance(timedelta(days=1))  # a new local day, below the frequency cap
    await h.handle(h.integration_due())
    await h.dispatch()
    assert "follow-up session" in h.provider.texts_to(PHONE)[-1]
    consent = await h.pool.fetchrow("SELECT sms_consent, sms_consent_method FROM recipients")
    assert tuple(consent) == (True, "sms-keyword:START")


async def test_other_inbound_text_keeps_only_the_keyword(h: Harness) -> None:
    await h.contact()
    resp = await post_signed(h, "/v1/sms/inbound", {"from": PHONE, "text": "I feel awful today"})
    assert resp.json() == {"status": "other"}
    row = await h.pool.fetchrow("SELECT * FROM inbound_sms")
    assert row["keyword"] == "other" and "awful" not in str(dict(row))
    assert await h.deliveries() == []


# ------------------------------------------------------------------ idempotency and the existing flow


async def test_redelivered_events_produce_no_second_message(h: Harness) -> None:
    await h.contact(email=True, sms=False)
    request = h.consultation_requested()
    envelope = await h.handle(request)
    await h.handle(request, envelope)  # redelivered by Kafka: the inbox skips it
    await h.handle(request, envelope, inbox=False)  # even past the inbox: idempotency keys hold
    await h.dispatch()
    await h.handle(request, envelope, inbox=False)  # after sending, too
    await h.dispatch()
    assert sorted(m.subject for m in h.mail()) == ["New consultation request", "We received your request"]
    assert sorted(e["channel"] for e in await h.events("NotificationSent")) == ["email", "email", "feed"]


async def test_a_sent_message_is_settled_with_its_attempt_audit_record_and_event(h: Harness) -> None:
    """One statement settles an accepted delivery: the row, its attempt, the audit record (ids, no
    address) and NotificationSent; an integrator push gets the same minus the event."""
    await h.contact(email=True, sms=False)
    await h.handle(h.integration_due())
    await h.dispatch()
    [d] = await h.deliveries(channel="email")
    assert d["status"] == "sent" and d["provider_id"] and d["sent_at"] == h.clock.now() and d["attempts"] == 1
    attempts = await h.pool.fetch(
        "SELECT attempt, outcome, provider_id FROM delivery_attempts WHERE delivery_id = $1", d["id"]
    )
    assert [tuple(a) for a in attempts] == [(1, "accepted", d["provider_id"])]
    [record] = await h.pool.fetch(
        "SELECT actor, action, outcome, patient_id, course_id, resource, detail FROM audit_log"
        " WHERE action = 'message.sent' AND resource->>'delivery_id' = $1",
        str(d["id"]),
    )
    assert (record["actor"], record["outcome"]) == ("service:notifications", "ok")
    assert (record["patient_id"], record["course_id"]) == (h.patient_id, h.course_id)
    assert json.loads(record["resource"])["delivery_id"] == str(d["id"])
    assert json.loads(record["detail"])["provider_id"] == d["provider_id"] and EMAIL not in record["detail"]
    [event] = [e for e in await h.events("NotificationSent") if e["delivery_id"] == str(d["id"])]
    assert event["channel"] == "email" and event["course_id"] == str(h.course_id)


async def test_consultation_flow_sends_exactly_three_emails_for_email_only_consent(h: Harness) -> None:
    await h.contact(email=True, sms=False)
    await h.handle(h.consultation_requested())
    await h.handle(h.appointment(h.clock.now() + timedelta(days=1, minutes=30)))
    await h.dispatch()
    subjects = sorted((m.subject, m.rcpt_to) for m in h.mail())
    assert subjects == [
        ("New consultation request", ("intake@clinic.example",)),
        ("We received your request", (EMAIL,)),
        ("Your appointment is confirmed", (EMAIL,)),
    ]
    ack = next(m for m in h.mail() if m.subject == "We received your request")
    assert "988" in ack.message.get_body(("plain",)).get_content()
    booking = next(m for m in h.mail() if m.subject == "Your appointment is confirmed")
    assert any(p.get_content_type() == "text/calendar" for p in booking.message.walk())
    assert h.provider.texts() == []
    # the 24 h reminder would fall due 30 minutes after booking: skipped (min notice); 2 h one is planned
    planned = await h.pool.fetch("SELECT key FROM timers WHERE status = 'pending'")
    assert [r["key"].rsplit(":", 1)[1] for r in planned] == ["appointment_reminder_2h"]


async def test_a_message_queued_before_the_patient_chose_spanish_goes_in_spanish(h: Harness) -> None:
    """The language chosen on the patient's page counts from the next message sent, queued ones too:
    the delivery, its audit record and NotificationSent name the Spanish template that went."""
    await h.contact(email=True, sms=False)
    await h.handle(h.appointment(h.clock.now() + timedelta(days=3)))
    await h.pool.execute("UPDATE recipients SET locale = 'es' WHERE patient_id = $1", h.patient_id)
    await h.dispatch()
    [mail] = h.mail(EMAIL)
    assert mail.subject == "Su cita está confirmada"
    [d] = await h.deliveries(channel="email", patient_id=h.patient_id)
    assert (d["status"], d["template_id"], d["locale"]) == (
        "sent",
        "booking_confirmation.patient.email.es",
        "es",
    )
    [event] = [e for e in await h.events("NotificationSent") if e["delivery_id"] == str(d["id"])]
    assert event["template_id"] == "booking_confirmation.patient.email.es"


# --------------------------------------------------------------------------- quiet hours, caps, urgent


async def test_text_at_night_waits_for_0800_in_the_patient_zone(h: Harness) -> None:
    await h.contact(zone="America/Los_Angeles")
    h.clock.current = datetime(2024, 6, 4, 5, 30, tzinfo=UTC)  # 22:30 PDT
    await h.handle(h.integration_due())
    await h.dispatch()
    [text] = await h.deliveries(channel="sms")
    opening = datetime(2024, 6, 4, 15, 0, tzinfo=UTC)  # 08:00 PDT
    assert (text["status"], text["reason"], text["next_attempt_at"]) == ("queued", "quiet_hours", opening)
    await h.advance(opening - h.clock.now() - timedelta(seconds=1))
    assert h.provider.texts() == []
    await h.advance(timedelta(seconds=1))
    assert len(h.provider.texts_to(PHONE)) == 1


async def test_second_automated_text_in_a_day_falls_back_to_email(h: Harness) -> None:
    await h.contact()
    await h.handle(h.integration_due())
    await h.dispatch()
    await h.advance(timedelta(hours=3))
    await h.handle(h.integration_due())
    await h.dispatch()
    assert len(h.provider.texts_to(PHONE)) == 1
    reasons = [d["reason"] for d in await h.deliveries(channel="sms")]
    assert reasons == [None, "frequency_cap"]
    assert [m.subject for m in h.mail(EMAIL)] == ["Time to book your follow-up session"]


async def test_the_daily_text_cap_holds_across_dispatcher_replicas(h: Harness) -> None:
    """Two replicas dispatching the same patient's texts at the same moment: one text, not two."""
    await h.contact()
    await h.handle(h.integration_due())
    await h.handle(h.integration_due())  # a second automated text for the same patient, due now
    # each call claims one delivery (two texts, two therapist feed items), as replicas would, and
    # they run interleaved
    await asyncio.gather(*(h.dispatcher.dispatch_once(limit=1) for _ in range(4)))
    await h.dispatch()
    assert len(h.provider.texts_to(PHONE)) == 1
    reasons = sorted(str(d["reason"]) for d in await h.deliveries(channel="sms"))
    assert reasons == ["None", "frequency_cap"]
    assert [m.subject for m in h.mail(EMAIL)] == ["Time to book your follow-up session"]


async def test_urgent_review_reaches_clinicians_at_3am_and_halts_automated_messages(h: Harness) -> None:
    await h.contact()
    await h.handle(h.appointment(h.clock.now() + timedelta(days=3)))
    await h.dispatch()
    assert await h.pool.fetchval("SELECT count(*) FROM timers WHERE status = 'pending'") == 2
    h.clock.current = datetime(2024, 6, 4, 7, 0, tzinfo=UTC)  # 03:00 New York, 02:00 Chicago
    await h.handle(
        UrgentReviewRequired(
            alert_id=uuid.uuid4(), course_id=h.course_id, patient_id=h.patient_id, raised_at=h.clock.now()
        )
    )
    await h.dispatch()
    [hook] = h.provider.requests_to("/hooks/clinical")
    assert hook.json()["text"].startswith(":rotating_light: URGENT: clinician review required")
    assert [m.subject for m in h.mail("clinician@clinic.example")] == ["URGENT: clinician review required"]
    feed_row = await h.pool.fetchrow(
        "SELECT staff_id, urgent FROM feed_items WHERE notification = 'urgent_review'"
    )
    assert tuple(feed_row) == ("clin-1", True)
    assert await h.pool.fetchval("SELECT count(*) FROM timers WHERE status = 'pending'") == 0


async def test_a_stretched_cadence_reaches_the_care_team_by_email_and_feed(h: Harness) -> None:
    await h.contact()
    stretched = cadence_stretched(h, 3, uuid.uuid4())
    await h.handle(stretched)
    await h.dispatch()
    subject = "Course cadence stretched: a visit is booked late"
    assert sorted((m.subject, m.rcpt_to) for m in h.mail()) == [
        (subject, ("clinician@clinic.example",)),
        (subject, ("intake@clinic.example",)),
    ]
    body = h.mail("clinician@clinic.example")[0].message.get_body(("plain",)).get_content()
    lines = body.splitlines()
    assert lines[0] == "Dose 3 is booked 5 days after the one before; the protocol allows at most 4."
    assert lines[1:3] == ["Planned: Thursday 10 December 2026", "Booked: Monday 14 December 2026"]
    assert f"/courses/{h.course_id}" in body and "Ana" not in body and EMAIL not in body
    feed_rows = await h.pool.fetch(
        "SELECT staff_id, title, urgent, course_id FROM feed_items"
        " WHERE notification = 'cadence_stretched' ORDER BY staff_id"
    )
    assert [tuple(r) for r in feed_rows] == [
        ("clin-1", subject, False, h.course_id),
        ("coord-1", subject, False, h.course_id),
    ]
    assert h.provider.texts() == [] and await h.deliveries(patient_id=h.patient_id) == []


async def test_a_sessions_alerts_reach_its_booked_clinician_and_the_on_call_group(h: Harness) -> None:
    """Issue 27: session alerts went to the role's group only. clin-2 and clin-3 are on no rota
    (config/staff.json); booked for a session, they get its alerts beside on-call clin-1, once each."""
    await h.contact()
    session_id = uuid.uuid4()
    for booked in ("clin-2", "clin-1"):  # clin-1 is on call and booked: one item, not two
        check = MonitoringCheckDue(
            session_id=session_id,
            course_id=h.course_id,
            check=MonitoringCheck.BLOOD_PRESSURE,
            due_at=h.clock.now(),
            clinician_id=booked,
        )
        await h.handle(check)
    await h.handle(h.session_administered("intranasal@1", session_id, clinician_id="clin-3"))
    await h.dispatch()
    rows = await h.pool.fetch(
        "SELECT notification, staff_id, urgent FROM feed_items ORDER BY notification, staff_id"
    )
    assert [tuple(r) for r in rows] == [
        ("monitoring_check", "clin-1", True),
        ("monitoring_check", "clin-1", True),
        ("monitoring_check", "clin-2", True),
        ("rems_form_due", "clin-1", False),
        ("rems_form_due", "clin-3", False),
    ]
    rems = sorted(m.rcpt_to for m in h.mail() if m.subject == "Patient monitoring form due")
    assert rems == [("clinician-3@clinic.example",), ("clinician@clinic.example",)]


async def test_a_clinician_added_in_scheduling_gets_a_feed_and_their_sessions_alerts(h: Harness) -> None:
    """Issue 30: a clinician added through scheduling's admin API (ClinicianUpdated) was unknown
    here: their feed was 404 and their sessions' alerts reached nobody. Known from the event now:
    the alert reaches their feed (no email: the event has no address) beside on-call clin-1's."""
    await h.contact()
    check = MonitoringCheckDue(
        session_id=uuid.uuid4(),
        course_id=h.course_id,
        check=MonitoringCheck.BLOOD_PRESSURE,
        due_at=h.clock.now(),
        clinician_id="clin-9",
    )
    async with h.client(person="clin-9") as own:
        assert (await own.get("/v1/staff/clin-9/feed")).status_code == 404  # not known yet
    await h.handle(
        ClinicianUpdated(clinic_id="main", changed_at=h.clock.now(), clinician_id="clin-9", created=True)
    )
    await h.handle(check)
    await h.dispatch()
    rows = await h.pool.fetch("SELECT notification, staff_id, urgent FROM feed_items ORDER BY staff_id")
    assert [tuple(r) for r in rows] == [
        ("monitoring_check", "clin-1", True),
        ("monitoring_check", "clin-9", True),
    ]
    nine = await h.deliveries(staff_id="clin-9")
    assert [(d["channel"], d["status"]) for d in nine] == [("feed", "delivered")]
    async with h.client(person="clin-9") as own:
        r = await own.get("/v1/staff/clin-9/feed")
        assert r.status_code == 200, r.text
        [item] = r.json()
        assert (item["notification"], item["urgent"]) == ("monitoring_check", True)
        assert (await own.post(f"/v1/staff/clin-9/feed/{item['id']}/read")).status_code == 204
    # the directory file wins when both know a person: ClinicianUpdated for clin-2 changes nothing
    await h.handle(
        ClinicianUpdated(clinic_id="main", changed_at=h.clock.now(), clinician_id="clin-2", created=False)
    )
    await h.handle(check.model_copy(update={"clinician_id": "clin-2", "session_id": uuid.uuid4()}))
    await h.dispatch()
    two = await h.deliveries(staff_id="clin-2")
    assert [(d["channel"], d["status"]) for d in two] == [("feed", "delivered")]  # the file's rule: feed
    assert h.mail() == []  # nobody is emailed for a monitoring check


async def test_a_session_under_a_protocol_not_on_file_queues_nothing_and_is_permanent(h: Harness) -> None:
    """The consumer dead-letters a permanent error (no retries); the transaction leaves no trace."""
    session = h.session_administered("intranasal@99")
    with pytest.raises(PermanentError, match="'intranasal@99' is not on file"):
        await h.handle(session)
    assert await h.deliveries() == []
    assert await h.pool.fetchval("SELECT count(*) FROM inbox") == 0


# --------------------------------------------------------------------------- rolling dispatch


class HeldChannel:
    """A slow provider: each send waits until released, then goes to the real channel."""

    def __init__(self, inner: Channel) -> None:
        self.inner, self.entered, self.released = inner, asyncio.Event(), asyncio.Event()

    async def send(self, outbound: Outbound) -> Any:
        self.entered.set()
        await self.released.wait()
        return await self.inner.send(outbound)


def hold(h: Harness, channel: str) -> HeldChannel:
    held = HeldChannel(h.dispatcher.channels[channel])
    h.dispatcher.channels = {**h.dispatcher.channels, channel: held}
    return held


@contextlib.asynccontextmanager
async def dispatching(h: Harness) -> AsyncIterator[None]:
    """The dispatcher's own loop, as the service runs it (woken by queued deliveries, by finished
    sends that free something to claim, and by its poll)."""
    task = asyncio.create_task(h.dispatcher.run())
    try:
        yield
    finally:
        await h.dispatcher.stop()
        await asyncio.wait_for(task, 20)


async def status_of(h: Harness, delivery_id: uuid.UUID) -> str:
    return str(await h.pool.fetchval("SELECT status FROM deliveries WHERE id = $1", delivery_id))


async def test_a_slow_provider_does_not_hold_back_an_urgent_alert_queued_after_it(h: Harness) -> None:
    await h.contact()
    sms = hold(h, "sms")
    await h.handle(h.integration_due())
    [text] = await h.deliveries(channel="sms")
    async with dispatching(h):
        await asyncio.wait_for(sms.entered.wait(), 10)  # the text is with the (stalled) provider
        await h.handle(
            UrgentReviewRequired(
                alert_id=uuid.uuid4(),
                course_id=uuid.uuid4(),
                patient_id=uuid.uuid4(),
                raised_at=h.clock.now(),
            )
        )

        async def alerted() -> bool:
            rows = await h.pool.fetch("SELECT status FROM deliveries WHERE notification = 'urgent_review'")
            return len(rows) == 3 and all(r["status"] in ("sent", "delivered") for r in rows)

        assert await wait_for(
            alerted, within=10, interval=0.05
        )  # email, feed and webhook went out while the text was still stalled
        assert await status_of(h, text["id"]) == "sending" and h.provider.texts() == []
        assert [m.subject for m in h.mail("clinician@clinic.example")] == [
            "URGENT: clinician review required"
        ]
        assert len(h.provider.requests_to("/hooks/clinical")) == 1
        sms.released.set()

        async def texted() -> bool:
            return await status_of(h, text["id"]) == "sent"

        assert await wait_for(texted, within=10, interval=0.05)
    assert len(h.provider.texts_to(PHONE)) == 1


async def test_a_patients_next_message_waits_for_the_one_being_sent(h: Harness) -> None:
    await h.contact()
    sms = hold(h, "sms")
    await h.handle(h.integration_due())
    [text] = await h.deliveries(channel="sms")
    async with dispatching(h):
        await asyncio.wait_for(sms.entered.wait(), 10)
        await h.handle(h.appointment(h.clock.now() + timedelta(days=2)))  # a confirmation, by email
        [confirmation] = [d for d in await h.deliveries(patient_id=h.patient_id) if d["channel"] == "email"]
        await asyncio.sleep(1.0)  # five poll intervals and the NOTIFY: the dispatcher had every chance
        assert await status_of(h, confirmation["id"]) == "queued" and h.mail(EMAIL) == []
        sms.released.set()

        async def both_sent() -> bool:
            return {await status_of(h, text["id"]), await status_of(h, confirmation["id"])} == {"sent"}

        assert await wait_for(both_sent, within=10, interval=0.05)


def urgent_review(h: Harness) -> UrgentReviewRequired:
    """Three staff deliveries, each a lane of its own: an email, a feed item and a webhook push."""
    return UrgentReviewRequired(
        alert_id=uuid.uuid4(), course_id=uuid.uuid4(), patient_id=uuid.uuid4(), raised_at=h.clock.now()
    )


def counting_claims(h: Harness) -> list[int]:
    """Each claim's size, as the dispatcher makes them."""
    sizes: list[int] = []
    claim = h.dispatcher._claim

    async def counted(limit: int) -> list[Any]:
        claimed = await claim(limit)
        sizes.append(len(claimed))
        return claimed

    h.dispatcher._claim = counted  # type: ignore[method-assign]
    return sizes


async def first_claim(sizes: list[int]) -> None:
    """The dispatcher's first claim (on start, of an empty queue) is done."""

    async def claimed() -> bool:
        return bool(sizes)

    assert await wait_for(claimed, within=5, interval=0.02), "the dispatcher never claimed"


async def all_sent(h: Harness, count: int) -> bool:
    rows = await h.pool.fetch("SELECT status FROM deliveries")
    return len(rows) == count and all(r["status"] in ("sent", "delivered") for r in rows)


async def test_a_finished_delivery_alone_in_its_lane_does_not_claim_again(infra: Infra) -> None:
    """Staff deliveries share no lane: once they are claimed together with room to spare, their
    finishing frees nothing another claim could take, and the dispatcher waits (here for a 60 s poll)
    instead of claiming again for nothing."""
    async with make_harness(infra, dispatch_poll_seconds=60.0) as h:
        sizes = counting_claims(h)
        async with dispatching(h):
            await first_claim(sizes)
            await h.handle(urgent_review(h))
            assert await wait_for(lambda: all_sent(h, 3), within=10, interval=0.05)
            await asyncio.sleep(0.5)
        assert sizes == [0, 3]


async def test_a_full_dispatcher_claims_again_as_each_delivery_finishes(infra: Infra) -> None:
    """With room for one delivery at a time, each one finished makes room for the next at once (not
    at the next poll), even where it freed no lane."""
    async with make_harness(infra, dispatch_poll_seconds=60.0, dispatch_concurrency=1) as h:
        sizes = counting_claims(h)
        async with dispatching(h):
            await first_claim(sizes)
            await h.handle(urgent_review(h))
            assert await wait_for(lambda: all_sent(h, 3), within=5, interval=0.05)
        assert [n for n in sizes if n] == [1, 1, 1]


async def test_the_next_of_a_lane_goes_when_the_one_before_it_finishes_not_at_the_poll(infra: Infra) -> None:
    async with make_harness(infra, dispatch_poll_seconds=60.0) as h:
        await h.contact()
        sms = hold(h, "sms")
        await h.handle(h.integration_due())  # a text to the patient (and a feed item to the therapist)
        async with dispatching(h):
            await asyncio.wait_for(sms.entered.wait(), 10)
            await h.handle(h.appointment(h.clock.now() + timedelta(days=2)))  # the patient's lane is busy
            await asyncio.sleep(0.3)
            [confirmation] = [
                d for d in await h.deliveries(patient_id=h.patient_id) if d["channel"] == "email"
            ]
            assert await status_of(h, confirmation["id"]) == "queued"
            sms.released.set()

            async def confirmed() -> bool:
                return await status_of(h, confirmation["id"]) == "sent"

            assert await wait_for(confirmed, within=5, interval=0.05)


async def test_urgent_deliveries_are_claimed_before_a_backlog(h: Harness) -> None:
    await h.contact()
    await h.handle(h.integration_due())  # a text to the patient and a feed item to the therapist
    await h.handle(
        UrgentReviewRequired(
            alert_id=uuid.uuid4(), course_id=uuid.uuid4(), patient_id=uuid.uuid4(), raised_at=h.clock.now()
        )
    )
    assert await h.dispatcher.dispatch_once(limit=3) == 3
    rows = await h.pool.fetch("SELECT notification, status FROM deliveries WHERE status <> 'queued'")
    assert {r["notification"] for r in rows} == {"urgent_review"}  # queued last, claimed first


async def test_an_unexpected_error_stops_the_dispatcher_loudly(h: Harness) -> None:
    """Not a hiccup to log and retry forever: the loop ends with the error (the process restarts)."""
    await h.contact()
    await h.handle(h.integration_due())

    async def broken(*_: Any) -> None:
        raise ValueError("a bug after the provider accepted the message")

    h.dispatcher.outcomes = SimpleNamespace(sent=broken)  # type: ignore[assignment]
    with pytest.raises(ValueError, match="a bug"):
        await asyncio.wait_for(h.dispatcher.run(), 10)


async def test_a_database_outage_after_the_provider_accepted_is_ridden_out_without_a_resend(
    h: Harness,
) -> None:
    """The SMTP server took the email, then recording it failed (PostgreSQL restarting): the
    dispatcher retries the record instead of leaving the delivery to be sent again."""
    await h.contact()
    await h.handle(h.appointment(h.clock.now() + timedelta(days=2)))  # a confirmation email
    real = h.dispatcher.outcomes
    failures = [asyncpg.CannotConnectNowError("the database system is starting up")]

    class Flaky:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        async def sent(self, *args: Any) -> None:
            if failures:
                raise failures.pop()
            await real.sent(*args)

    h.dispatcher.outcomes = Flaky()  # type: ignore[assignment]
    await h.dispatch()
    [confirmation] = [d for d in await h.deliveries(patient_id=h.patient_id) if d["channel"] == "email"]
    assert (confirmation["status"], confirmation["attempts"]) == ("sent", 1)
    assert len(h.mail(EMAIL)) == 1 and failures == []


# --------------------------------------------------------------------------- integrators, history, feed


async def test_integrators_receive_signed_pushes_retried_with_the_same_id(h: Harness) -> None:
    await h.contact()
    h.provider.script("/integrator", 503)
    event = h.appointment(h.clock.now() + timedelta(days=2))
    envelope = await h.handle(event)
    await h.handle(h.integration_due())  # not subscribed by the endpoint
    await h.dispatch()
    await h.advance(timedelta(seconds=2))
    first, second = h.provider.requests_to("/integrator")
    assert (first.status, second.status) == (503, 200)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    now = datetime.fromtimestamp(int(second.headers["webhook-timestamp"]), UTC)
    assert verify(INTEGRATOR_SECRET, second.headers, second.body, now, timedelta(minutes=5))
    cloud_event = second.json()
    assert cloud_event["type"] == "io.katflow.AppointmentScheduled.v1" and cloud_event["id"] == envelope.id
    assert cloud_event["data"]["appointment_id"] == str(event.appointment_id)
    assert "Ana" not in second.body.decode() and EMAIL not in second.body.decode()
    sent_channels = {e["channel"] for e in await h.events("NotificationSent")}
    assert "webhook" not in sent_channels  # pushes to integrators are not patient/staff notifications


async def test_delivery_history_of_patient_and_course(h: Harness) -> None:
    await h.contact()
    h.provider.script("/messages", 500)
    await h.handle(h.integration_due())
    await h.dispatch()
    await h.advance(timedelta(seconds=2))
    async with h.client() as client:
        patient = (await client.get(f"/v1/patients/{h.patient_id}/deliveries")).json()
        course = (await client.get(f"/v1/courses/{h.course_id}/deliveries")).json()
    [text] = patient
    assert (text["channel"], text["status"], text["template_id"], text["template_version"]) == (
        "sms",
        "sent",
        "integration_due.patient.sms.en",
        1,
    )
    assert [a["outcome"] for a in text["attempt_log"]] == ["transient", "accepted"]
    assert {d["audience"] for d in course} == {"patient", "staff"}
    async with h.client(authenticated=False) as anonymous:
        assert (await anonymous.get(f"/v1/patients/{h.patient_id}/deliveries")).status_code == 401
    assert PHONE not in json.dumps(course) and EMAIL not in json.dumps(course)


async def test_staff_feed_list_read_and_event_stream(h: Harness) -> None:
    await h.contact()
    await h.handle(h.integration_due())
    await h.dispatch()
    async with h.client(person="ther-1") as client:
        items = (await client.get("/v1/staff/ther-1/feed")).json()
        assert [i["title"] for i in items] == ["Follow-up session due"]
        assert (await client.post(f"/v1/staff/ther-1/feed/{items[0]['id']}/read")).status_code == 204
        stream = await client.get("/v1/staff/ther-1/feed/stream", headers={"Last-Event-ID": "0"})
        assert (await client.get("/v1/staff/nobody/feed")).status_code == 403  # not theirs
    assert stream.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in stream.text.split("\n\n") if b.startswith("id:")]
    assert len(blocks) == 1 and f"id: {items[0]['id']}" in blocks[0] and "event: notification" in blocks[0]
    data = json.loads(blocks[0].split("data: ", 1)[1])
    assert data["title"] == "Follow-up session due" and data["read_at"] is not None


async def test_who_read_a_patient_in_a_staff_feed_is_in_the_audit_trail(h: Harness) -> None:
    """Issue 27: the feed and its live stream named no patients in their audit records, so "who read
    patient X" missed them. A list names its items' patients in its request's record; a stream writes
    a record per batch it sends (after its request's record was written)."""
    await h.contact()
    await h.handle(h.integration_due())  # a feed item for ther-1 about h.patient_id
    await h.dispatch()
    async with h.client(person="ther-1") as client:
        [item] = (await client.get("/v1/staff/ther-1/feed")).json()
        stream = await client.get("/v1/staff/ther-1/feed/stream", headers={"Last-Event-ID": "0"})
    assert item["patient_id"] == str(h.patient_id) and f"id: {item['id']}" in stream.text
    rows = await h.pool.fetch(
        "SELECT actor, action, resource FROM audit_log WHERE patient_ids @> ARRAY[$1::uuid] ORDER BY id",
        h.patient_id,
    )
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("ther-1", "GET /v1/staff/{staff_id}/feed"),
        ("ther-1", "feed.stream.sent"),
    ]
    assert json.loads(rows[1]["resource"]) == {"staff_id": "ther-1", "items": [item["id"]]}
    async with h.client(person="admin-1") as admin:
        found = (await admin.get("/v1/audit", params={"patient_id": str(h.patient_id)})).json()
    assert {"GET /v1/staff/{staff_id}/feed", "feed.stream.sent"} <= {r["action"] for r in found}


async def test_a_feed_is_its_owners_and_an_admin_may_read_but_not_mark_another(h: Harness) -> None:
    """Issue 27: any care-team credential read any staff member's feed and marked their items read
    (urgent alerts included). Now a clinician gets 403 on a therapist's feed; an admin may read it
    but not mark it. (That the admin's read is audited: tests/e2e/test_actor_identity.py.)"""
    await h.contact()
    await h.handle(h.integration_due())  # a feed item for the therapist ther-1
    await h.dispatch()
    feed = "/v1/staff/ther-1/feed"
    async with h.client(person="ther-1") as own:
        [item] = (await own.get(feed)).json()
    mark = f"{feed}/{item['id']}/read"
    async with h.client(person="clin-1") as colleague:
        for call in (colleague.get(feed), colleague.get(f"{feed}/stream"), colleague.post(mark)):
            assert (await call).status_code == 403
        assert (await colleague.get("/v1/staff/clin-1/feed")).status_code == 200  # their own
    async with h.client(person="admin-1") as admin:
        assert [i["id"] for i in (await admin.get(feed)).json()] == [item["id"]]
        assert (await admin.post(mark)).status_code == 403  # reading is not marking
        assert (await admin.get("/v1/staff/nobody/feed")).status_code == 404
    async with h.client(person="ther-1") as own:
        assert [i["read_at"] for i in (await own.get(feed)).json()] == [None]  # still unread


@pytest.mark.parametrize(
    ("last_event_id", "after"),
    [(b"\xb2", None), (b"abc", None), (b"1" * 30, None), (b"-1", None), (None, str(2**63))],
)
async def test_a_malformed_resume_point_of_the_feed_stream_is_a_4xx_not_a_500(
    h: Harness, last_event_id: bytes | None, after: str | None
) -> None:
    """Latin-1 b"\xb2" (superscript two) passed str.isdigit() and broke int(): a 500; 30 digits
    overflowed the bigint query inside the stream."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    params = {"after": after} if after is not None else {}
    async with h.client(person="ther-1") as client:
        resp = await client.get("/v1/staff/ther-1/feed/stream", headers=headers, params=params)
    assert resp.status_code == (400 if last_event_id is not None else 422)


async def test_a_feed_item_is_written_by_the_statement_that_settles_its_delivery(h: Harness) -> None:
    """The feed channel hands nothing over on its own: the item, the delivery's move to delivered with
    its accepted attempt, and NotificationSent are one statement. A settle that fails leaves no item
    behind; the delivery is sent again after its lease, and then there is exactly one."""
    await h.contact()
    await h.handle(h.integration_due())  # a text to the patient and a feed item to the therapist
    refuse = "ALTER TABLE delivery_attempts ADD CONSTRAINT refuse CHECK (false) NOT VALID"
    await h.pool.execute(refuse)
    with pytest.raises(asyncpg.CheckViolationError):
        await h.dispatch()
    await h.pool.execute("ALTER TABLE delivery_attempts DROP CONSTRAINT refuse")
    assert await h.pool.fetchval("SELECT count(*) FROM feed_items") == 0
    await h.advance(timedelta(seconds=h.settings.delivery_lease_seconds + 1))
    await h.dispatch()
    row = await h.pool.fetchrow(
        "SELECT d.id, d.status, d.provider_id, f.staff_id FROM deliveries d"
        " JOIN feed_items f ON f.delivery_id = d.id WHERE d.channel = 'feed'"
    )
    assert row is not None and await h.pool.fetchval("SELECT count(*) FROM feed_items") == 1
    assert (row["status"], row["provider_id"]) == ("delivered", f"feed:{row['id']}")
    assert row["staff_id"] == "ther-1"
    attempts = await h.pool.fetch("SELECT outcome FROM delivery_attempts WHERE delivery_id = $1", row["id"])
    assert [a["outcome"] for a in attempts] == ["accepted"]
    sent = [e for e in await h.events("NotificationSent") if e["delivery_id"] == str(row["id"])]
    assert [e["channel"] for e in sent] == ["feed"]


# --------------------------------------------------------------------------- channel contract


@pytest.fixture(params=["memory", "http"])
async def sms_channel(request: pytest.FixtureRequest, h: Harness) -> AsyncIterator[tuple[Channel, Any]]:
    """The same contract for the fake and the real SMS adapter (against the local HTTP provider)."""
    if request.param == "memory":
        fake = MemoryChannel()
        yield (
            fake,
            lambda *outcomes: fake.script.extend({429: "transient", 400: "permanent"}[o] for o in outcomes),
        )
        return
    async with httpx.AsyncClient() as client:
        yield HttpSms(h.settings, client), lambda *statuses: h.provider.script("/messages", *statuses)


async def test_sms_channel_contract(sms_channel: tuple[Channel, Any]) -> None:
    channel, script = sms_channel
    message = Outbound(uuid.uuid4(), PHONE, Rendered("", "Care Team: hello"))
    script(429, 400)
    with pytest.raises(ChannelTransient):
        await channel.send(message)
    with pytest.raises(ChannelPermanent):
        await channel.send(message)
    first = await channel.send(message)
    assert first.provider_id and (await channel.send(message)).provider_id == first.provider_id
