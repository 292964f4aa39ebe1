"""Hostile records on a workflow topic: hypothesis makes malformed and oversized CloudEvents, they are
produced onto katflow.intake.v1 (one partition), and each consuming service must dead-letter every
one of them, stay up, and still process a valid event sent afterwards on the same partition."""

from __future__ import annotations

import json
import uuid

from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katflow_shared.contracts import topics
from katflow_shared.messaging.cloudevents import MAX_BODY_BYTES, Envelope, decode
from katflow_shared.messaging.errors import InvalidMessage
from tests.support.patient_events import consultation_requested
from tests.support.stack import Stack, read_topic, wait_for

Headers = list[tuple[str, bytes]]
Record = tuple[Headers, bytes | None]
CONSUMERS = ("scheduling", "notifications")


def valid_record() -> tuple[Envelope, Headers, bytes]:
    envelope = Envelope(event=consultation_requested(), source=topics.producer_source(topics.INTAKE))
    return envelope, envelope.headers(), envelope.body()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def bad_body(draw: st.DrawFn) -> Record:
    """Valid headers, a body that is not JSON, not an object, or breaks the event's schema."""
    _, headers, body = valid_record()
    fields = json.loads(body)
    choice = draw(st.sampled_from(["bytes", "json", "field", "drop", "deep", "huge"]))
    if choice == "bytes":
        return headers, draw(st.binary(max_size=200))
    if choice == "json":
        return headers, json.dumps(draw(json_values)).encode()
    if choice == "field":
        name = draw(st.sampled_from(sorted(fields)))
        fields[name] = draw(json_values.filter(lambda v: v is not None or name != "preferred_route"))
        return headers, json.dumps(fields).encode()
    if choice == "drop":
        fields.pop(draw(st.sampled_from(["course_id", "patient_id", "requested_at"])))
        return headers, json.dumps(fields).encode()
    if choice == "deep":
        depth = draw(st.integers(2_000, 50_000))
        return headers, b"[" * depth + b"]" * depth
    padding = "x" * (MAX_BODY_BYTES + draw(st.integers(1, 200_000)))
    return headers, json.dumps({**fields, "padding": padding}).encode()


@st.composite
def bad_headers(draw: st.DrawFn) -> Record:
    """A valid body under missing, garbled or hostile CloudEvents headers."""
    _, headers, body = valid_record()
    attrs = dict(headers)
    name = draw(
        st.sampled_from(
            ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_correlationid", "drop"]
        )
    )
    if name == "drop":
        attrs.pop(draw(st.sampled_from(["ce_specversion", "ce_id", "ce_source", "ce_type"])))
    else:
        attrs[name] = draw(
            st.binary(min_size=1, max_size=300)
            | st.text(min_size=1, max_size=300).map(str.encode)
            | st.just(b"\xff\xfe not utf-8")
        )
    return list(attrs.items()), draw(st.none() | st.just(body))


@st.composite
def garbage(draw: st.DrawFn) -> Record:
    """Anything at all."""
    headers = draw(st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=50)), max_size=6))
    return headers, draw(st.none() | st.binary(max_size=500))


def malformed_records(count: int, per_kind: int = 4) -> list[Record]:
    """Up to ``count`` records that decode() refuses with InvalidMessage (and nothing else), at most
    ``per_kind`` of each kind of refusal, so the mix covers headers, bodies, sizes and nesting."""
    kinds: dict[str, list[Record]] = {}

    @settings(
        max_examples=count * 8,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.one_of(bad_body(), bad_headers(), garbage()))
    def collect(record: Record) -> None:
        headers, body = record
        try:
            decode(headers, body)
        except InvalidMessage as exc:
            kind = kinds.setdefault(str(exc).split(":")[0][:40], [])
            if len(kind) < per_kind:
                kind.append(record)
        # anything else escaping decode() fails the test here; a record that happens to be valid is dropped

    collect()
    return [record for kind in kinds.values() for record in kind][:count]


async def test_malformed_events_are_dead_lettered_and_the_partition_keeps_flowing(stack: Stack) -> None:
    stack.start(*CONSUMERS)
    records = malformed_records(40, per_kind=3)
    assert len(records) >= 20
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.infra.kafka_bootstrap, max_request_size=2 * 1024 * 1024
    )
    await producer.start()
    topic = stack.topic(topics.INTAKE)
    try:
        oversized = (valid_record()[1], b'{"x": "' + b"y" * (MAX_BODY_BYTES + 10) + b'"}')
        nested = (valid_record()[1], b"[" * 100_000 + b"]" * 100_000)
        for headers, body in [*records, oversized, nested]:
            await producer.send_and_wait(topic, value=body, key=b"fuzz", headers=headers, partition=0)
        envelope, headers, body = valid_record()
        await producer.send_and_wait(
            topic, value=body, key=envelope.subject.encode(), headers=headers, partition=0
        )
    finally:
        await producer.stop()
    sent = len(records) + 2

    for service in CONSUMERS:
        dlq = stack.topic(topics.dead_letter_topic(service))
        letters = await read_topic(stack.infra.kafka_bootstrap, dlq, lambda rs: len(rs) >= sent, within=90)
        assert len(letters) == sent, (service, len(letters))
        for letter in letters:
            meta = {k: v.decode() for k, v in letter.headers if k.startswith("dlq_")}
            assert meta["dlq_source_topic"] == topic and meta["dlq_source_partition"] == "0"
            assert meta["dlq_error_type"] == "InvalidMessage", meta
        offsets = sorted(int(dict(letter.headers)["dlq_source_offset"]) for letter in letters)
        assert offsets == sorted(set(offsets)), "each malformed record is dead-lettered once"

    # the valid event behind them on the same partition was processed by both, which are still up
    async def handled() -> bool:
        counts = [
            await stack.fetchval(s, "SELECT count(*) FROM inbox WHERE event_id = $1", uuid.UUID(envelope.id))
            for s in CONSUMERS
        ]
        return counts == [1, 1]

    assert await wait_for(handled, within=60)
    for service in CONSUMERS:
        assert stack.services[service].alive(), stack.services[service].log_tail()
