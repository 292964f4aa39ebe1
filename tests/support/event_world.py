"""Notifications on a real stack, driven by events as the other services would publish them: the
services' clock (an offset file the test moves), a Kafka producer, one patient and course, and the
SMTP sink's mail. The e2e notifications tests build their worlds on it."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from pathlib import Path

from aiokafka import AIOKafkaProducer

from katflow_shared.contracts import Event, IntegrationDue
from katflow_shared.contracts.topics import producer_source
from katflow_shared.messaging.cloudevents import Envelope
from tests.conftest import RUN_ROOT
from tests.support.course import course_start
from tests.support.infra import Infra
from tests.support.patient_events import contact_updated, integration_due
from tests.support.stack import Stack, make_stack, wait_for

ZONE = "America/Chicago"


def local_noon(zone: str = ZONE) -> datetime:
    """12:00 in the patient's zone (so quiet hours never interfere with the test) on a fixed day: the
    first Monday of June next year, ahead of the real date and days away from a daylight-saving
    change, a month end or a year end, whatever day the suite runs."""
    return course_start("mon", zone, datetime.now(UTC).date()).replace(hour=12).astimezone(UTC)


@dataclass
class EventWorld:
    stack: Stack
    offset_file: Path
    producer: AIOKafkaProducer
    email: str
    phone: str
    patient_id: uuid.UUID
    course_id: uuid.UUID

    @property
    def url(self) -> str:
        return self.stack.url("notifications")

    def now(self) -> datetime:
        """The service's clock (wall clock + offset)."""
        return datetime.now(UTC) + timedelta(seconds=float(self.offset_file.read_text() or 0))

    def integration_due(self) -> IntegrationDue:
        """The patient's first integration session, due now."""
        return integration_due(self, self.now())

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

    async def contact(
        self,
        *,
        sms: bool = True,
        email: bool = True,
        given_name: str = "Eve",
        born: date | None = None,
        at: datetime | None = None,
    ) -> datetime:
        """The patient's contact details and consents, as intake publishes them; waits until
        notifications has them (the contact topic is consumed apart from the others: a text or an
        event arriving first would find no patient). Returns when they were captured."""
        at = at or datetime.now(UTC)
        await self.publish(
            contact_updated(
                self.patient_id,
                at,
                time_zone=ZONE,
                email_address=self.email,
                phone=self.phone,
                given_name=given_name,
                email=email,
                sms=sms,
                born=born,
            )
        )

        async def landed() -> int:
            sql = "SELECT count(*) FROM recipients WHERE patient_id = $1 AND updated_at >= $2"
            return int(await self.stack.fetchval("notifications", sql, self.patient_id, at))

        assert await wait_for(landed, within=30), "the contact details never reached notifications"
        return at

    def mail_headers(self, subject: str) -> list[Message]:
        messages = self.stack.sink.messages()
        return [m.message for m in messages if self.email in m.rcpt_to and m.subject == subject]

    def mails(self) -> list[tuple[str, str]]:
        """The patient's mail: (subject, plain text)."""
        out = []
        for m in self.stack.sink.messages():
            if self.email in m.rcpt_to:
                body = m.message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
                out.append((m.subject, body.get_content() if body else ""))
        return out

    async def mail(self, subject: str, within: float = 60) -> str:
        async def found() -> str | None:
            return next((text for s, text in self.mails() if s == subject), None)

        text = await wait_for(found, within=within)
        assert text, f"no mail {subject!r}: {[s for s, _ in self.mails()]}"
        return str(text)


@contextlib.asynccontextmanager
async def event_stack(infra: Infra, **env: str) -> AsyncIterator[tuple[Stack, Path, AIOKafkaProducer]]:
    """A stack whose clock reads the offset file (at noon of ``local_noon()``), timers polled often,
    and a producer; the caller starts the services (after any ``stack.cfg.extra_env`` of its own)."""
    offset_file = RUN_ROOT / f"clock-{uuid.uuid4().hex[:8]}"
    offset_file.parent.mkdir(parents=True, exist_ok=True)
    offset_file.write_text(str((local_noon() - datetime.now(UTC)).total_seconds()))
    settings = {"KATFLOW_CLOCK_OFFSET_FILE": str(offset_file), "KATFLOW_TIMER_POLL_SECONDS": "0.2", **env}
    stack = await make_stack(infra, RUN_ROOT, **settings)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        yield stack, offset_file, producer
    finally:
        await producer.stop()
        stack.stop()
        offset_file.unlink(missing_ok=True)
