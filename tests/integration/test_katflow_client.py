"""The integrators' client package (clients/katflow_client): a FastStream router and decoder for
katflow's CloudEvents, tested with FastStream's TestKafkaBroker and against the real broker."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker

from katflow_client import (
    CloudEvent,
    ConsultationRequested,
    EligibilityDecided,
    KatflowRouter,
    cloud_event,
    topics,
)
from katflow_shared.contracts.common import EligibilityOutcome, Route
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.kafka import ensure_topics, make_producer
from katflow_shared.settings import ServiceSettings
from tests.support.infra import REPO, Infra
from tests.support.patient_events import consultation_requested
from tests.support.stack import wait_for

SOURCE = topics.producer_source(topics.INTAKE)


def _request() -> ConsultationRequested:
    return consultation_requested(route=Route.INTRANASAL)


def _decision(request: ConsultationRequested) -> EligibilityDecided:
    return EligibilityDecided(
        course_id=request.course_id,
        patient_id=request.patient_id,
        outcome=EligibilityOutcome.ELIGIBLE,
        decided_at=datetime.now(UTC),
    )


def _router(prefix: str = "") -> tuple[KatflowRouter, list[tuple[object, CloudEvent]]]:
    router = KatflowRouter(group_id=f"client-test-{uuid.uuid4().hex[:8]}", topic_prefix=prefix)
    seen: list[tuple[object, CloudEvent]] = []

    @router.on(ConsultationRequested)
    async def requested(event: ConsultationRequested, message: KafkaMessage) -> None:
        seen.append((event, cloud_event(message)))

    return router, seen


async def _publish(broker: KafkaBroker, envelope: Envelope, body: bytes | None = None) -> None:
    await broker.publish(
        body if body is not None else envelope.body(),
        topic=topics.INTAKE,
        key=envelope.subject.encode(),
        headers={k: v.decode() for k, v in envelope.headers()},
    )


async def test_a_handler_gets_its_typed_event_and_its_attributes() -> None:
    router, seen = _router()
    broker = KafkaBroker()
    broker.include_router(router)
    request = _request()
    envelope = Envelope(request, source=SOURCE, correlation_id="req-client-1")
    async with TestKafkaBroker(broker) as test_broker:
        await _publish(test_broker, envelope)
        # Another type on the same topic that nobody handles here: passed over, not an error.
        await _publish(test_broker, Envelope(_decision(request), source=SOURCE))
        # A newer producer's extra field: dropped by the tolerant reader.
        newer = json.dumps({**json.loads(envelope.body()), "added_later": 1}).encode()
        await _publish(test_broker, Envelope(request, source=SOURCE), newer)
    assert [event for event, _ in seen] == [request, request]
    assert all(isinstance(event, ConsultationRequested) for event, _ in seen)
    attributes = seen[0][1]
    assert (attributes.id, attributes.type, attributes.correlation_id) == (
        envelope.id,
        "io.katflow.ConsultationRequested.v1",
        "req-client-1",
    )


async def test_an_invalid_record_never_reaches_the_handler() -> None:
    router, seen = _router()
    broker = KafkaBroker()
    broker.include_router(router)
    envelope = Envelope(_request(), source=SOURCE)
    body = json.loads(envelope.body())
    del body["patient_id"]
    async with TestKafkaBroker(broker) as test_broker:
        with pytest.raises(Exception, match="ConsultationRequested body invalid: patient_id: missing"):
            await _publish(test_broker, envelope, json.dumps(body).encode())
    assert seen == []


def test_one_handler_per_event_type() -> None:
    router, _ = _router()
    with pytest.raises(ValueError, match="has a handler"):
        router.on(ConsultationRequested)(lambda event: None)


@pytest.mark.timeout(120)
async def test_against_the_real_broker(infra: Infra) -> None:
    """katflow's own records on a real Kafka topic, read by a FastStream app built on the router."""
    prefix = f"client{uuid.uuid4().hex[:10]}."
    settings = ServiceSettings(kafka_bootstrap=infra.kafka_bootstrap, topic_prefix=prefix)
    await ensure_topics(settings)
    first, second = _request(), _request()
    producer = make_producer(settings)
    await producer.start()
    try:
        for event in (first, _decision(first), second):
            envelope = Envelope(event, source=SOURCE)
            await producer.send_and_wait(
                settings.topic(topics.INTAKE),
                envelope.body(),
                key=envelope.subject.encode(),
                headers=envelope.headers(),
            )
    finally:
        await producer.stop()

    router, seen = _router(prefix)
    broker = KafkaBroker(infra.kafka_bootstrap)
    broker.include_router(router)
    await broker.start()
    try:

        async def both() -> bool:
            return len(seen) >= 2

        assert await wait_for(both, within=90)
    finally:
        await broker.stop()
    await asyncio.sleep(1)  # nothing more arrives: the decision was passed over
    assert sorted((event for event, _ in seen), key=str) == sorted([first, second], key=str)
    assert [attributes.source for _, attributes in seen] == [SOURCE, SOURCE]


async def test_the_guides_faststream_listing_runs() -> None:
    """docs/integrators.md's FastStream example, as printed, handles katflow records."""
    guide = (REPO / "docs" / "integrators.md").read_text()
    listing = re.search(r"```python\n(from faststream .*?)```", guide, re.DOTALL)
    assert listing, "integrators.md has no FastStream listing"
    namespace: dict[str, Any] = {}
    exec(compile(listing.group(1), "integrators.md", "exec"), namespace)  # noqa: S102 - our own docs
    broker, router = namespace["broker"], namespace["router"]
    assert isinstance(router, KatflowRouter) and namespace["app"] is not None
    request = _request()
    async with TestKafkaBroker(broker) as test_broker:
        await _publish(test_broker, Envelope(request, source=SOURCE))
        await _publish(test_broker, Envelope(_decision(request), source=SOURCE))
        assert namespace["requested"].mock.call_count == namespace["decided"].mock.call_count == 1
