"""Topics bind types: a consumer takes an event type only from the topic its producer publishes it on
and only with that producer as ``ce_source`` (contracts.topics); anything else is dead-lettered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from katflow_shared.contracts import PatientContactUpdated, topics
from katflow_shared.messaging.cloudevents import Envelope
from tests.support.patient_events import contact_updated
from tests.support.stack import Stack, read_topic, wait_for

GENUINE = "patient@example.org"
FORGED = "attacker@example.net"


def _contact(patient_id: uuid.UUID, email: str, at: datetime) -> PatientContactUpdated:
    return contact_updated(patient_id, at, time_zone="Europe/Berlin", email_address=email)


async def test_an_event_off_its_topic_or_from_another_source_is_dead_lettered(stack: Stack) -> None:
    stack.start("notifications")
    patient = uuid.uuid4()
    now = datetime.now(UTC)
    intake = topics.producer_source(topics.PATIENT_CONTACT)
    genuine = Envelope(_contact(patient, GENUINE, now), source=intake)
    later = _contact(patient, FORGED, now + timedelta(minutes=5))  # newer: it would win if taken
    forgeries = {  # where it is sent, with which source, and what the dead letter says
        "scheduling's topic": (topics.SCHEDULING, intake, "does not belong on"),
        "scheduling as source": (topics.PATIENT_CONTACT, topics.source("scheduling"), "accepted only from"),
        "a foreign source": (topics.PATIENT_CONTACT, "/attacker", "accepted only from"),
    }
    producer = AIOKafkaProducer(bootstrap_servers=stack.infra.kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            stack.topic(topics.PATIENT_CONTACT),
            genuine.body(),
            key=genuine.subject.encode(),
            headers=genuine.headers(),
        )
        for topic, source, _ in forgeries.values():
            forged = Envelope(later, source=source)
            await producer.send_and_wait(
                stack.topic(topic), forged.body(), key=forged.subject.encode(), headers=forged.headers()
            )
    finally:
        await producer.stop()

    async def stored_email() -> str | None:
        email: str | None = await stack.fetchval(
            "notifications", "SELECT email FROM recipients WHERE patient_id = $1", patient
        )
        return email

    assert await wait_for(stored_email, within=60) == GENUINE
    dlq = stack.topic(topics.dead_letter_topic("notifications"))
    letters = await read_topic(stack.infra.kafka_bootstrap, dlq, lambda rs: len(rs) >= len(forgeries))
    assert len(letters) == len(forgeries)
    seen = sorted(
        (h["dlq_source_topic"], h["ce_source"], h["dlq_error_type"], h["dlq_error_message"])
        for h in ({k: v.decode() for k, v in letter.headers} for letter in letters)
    )
    for (topic, source, message), (got_topic, got_source, error, got_message) in zip(
        sorted(forgeries.values()), seen, strict=True
    ):
        assert (got_topic, got_source, error) == (stack.topic(topic), source, "InvalidMessage")
        assert message in got_message
    assert await stored_email() == GENUINE  # the forged, newer contact details were not taken
