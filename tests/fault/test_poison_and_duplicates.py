"""Poison messages go to dead letters without blocking their partition; replay works; duplicates
have one effect."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid

from aiokafka import AIOKafkaProducer

from katflow_shared.contracts import ConsultationRequested, topics
from katflow_shared.messaging.cloudevents import Envelope
from tests.support.patient_events import consultation_requested
from tests.support.stack import Stack, read_topic, wait_for


def _request(course_id: uuid.UUID) -> ConsultationRequested:
    return consultation_requested(course_id, zone="America/Denver")


def _ce_headers(ce_type: str) -> list[tuple[str, bytes]]:
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(uuid.uuid4()).encode()),
        ("ce_source", topics.producer_source(topics.INTAKE).encode()),
        ("ce_type", ce_type.encode()),
        ("content-type", b"application/json"),
    ]


async def _appointments(stack: Stack, course_id: uuid.UUID) -> int:
    return int(
        await stack.fetchval(
            "scheduling", "SELECT count(*) FROM appointments WHERE course_id = $1", course_id
        )
    )


async def test_poison_messages_are_dead_lettered_and_the_partition_moves_on(stack: Stack) -> None:
    stack.start("scheduling")
    key = uuid.uuid4()  # every record below shares this key, hence this partition
    schema_broken = uuid.uuid4()
    request_type = ConsultationRequested.event_type()
    poison = {
        "invalid JSON": (_ce_headers(request_type), b'{"course_id": '),
        "wrong schema": (_ce_headers(request_type), json.dumps({"course_id": str(schema_broken)}).encode()),
        "unknown type": (_ce_headers("io.katflow.SomethingElse.v9"), b"{}"),
        "oversized": (_ce_headers(request_type), b'{"pad": "' + b"x" * 300_000 + b'"}'),
        "no CloudEvents headers": ([], b"{}"),
    }
    good = Envelope(_request(key), source=topics.producer_source(topics.INTAKE))
    producer = AIOKafkaProducer(bootstrap_servers=stack.infra.kafka_bootstrap, max_request_size=2_000_000)
    await producer.start()
    try:
        for headers, body in poison.values():
            await producer.send_and_wait(
                stack.topic(topics.INTAKE), body, key=str(key).encode(), headers=headers
            )
        await producer.send_and_wait(
            stack.topic(topics.INTAKE), good.body(), key=str(key).encode(), headers=good.headers()
        )
    finally:
        await producer.stop()

    # The valid record after five poison ones on the same partition is processed.
    assert await wait_for(lambda: _at_least(stack, key, 1), within=60)

    dlq = stack.topic(topics.dead_letter_topic("scheduling"))
    letters = await read_topic(stack.infra.kafka_bootstrap, dlq, lambda rs: len(rs) >= len(poison))
    print(f"poison sent={len(poison)} dead-lettered={len(letters)} valid processed=1")
    assert len(letters) == len(poison)
    for letter in letters:
        h = {k: v.decode() for k, v in letter.headers}
        assert h["dlq_source_topic"] == stack.topic(topics.INTAKE)
        assert int(h["dlq_source_partition"]) >= 0 and int(h["dlq_source_offset"]) >= 0
        assert h["dlq_error_type"] == "InvalidMessage" and h["dlq_error_message"]
        assert h["dlq_attempts"] == "1"
        assert h["dlq_consumer_group"] == "katflow-scheduling-workflow"
    messages = sorted(k.decode() for k in (dict(letter.headers)["dlq_error_message"] for letter in letters))
    assert any("unknown event type" in m for m in messages)
    assert any("larger than" in m for m in messages)

    # Fix the wrong-schema letter and replay it with the CLI: it is processed.
    wrong = next(r for r in letters if str(schema_broken).encode() in (r.value or b""))
    fixed = stack.cfg.run_dir / "fixed.json"
    fixed.parent.mkdir(parents=True, exist_ok=True)
    fixed.write_text(_request(schema_broken).model_dump_json())
    env = {
        **os.environ,
        "KATFLOW_KAFKA_BOOTSTRAP": stack.infra.kafka_bootstrap,
        "KATFLOW_TOPIC_PREFIX": stack.cfg.topic_prefix,
    }
    listing = await _cli(env, "list", "--service", "scheduling")
    assert f"{len(poison)} dead letter(s) for scheduling" in listing
    position = f"{wrong.partition}:{wrong.offset}"
    shown = await _cli(env, "show", "--service", "scheduling", position)
    assert json.loads(shown)["headers"]["dlq_error_type"] == "InvalidMessage"
    await _cli(env, "replay", "--service", "scheduling", position, "--body", str(fixed))
    assert await wait_for(lambda: _at_least(stack, schema_broken, 1), within=60)


async def test_the_same_event_twice_has_one_effect(stack: Stack) -> None:
    stack.start("scheduling")
    course = uuid.uuid4()
    envelope = Envelope(_request(course), source=topics.producer_source(topics.INTAKE))
    producer = AIOKafkaProducer(bootstrap_servers=stack.infra.kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(2):
            await producer.send_and_wait(
                stack.topic(topics.INTAKE),
                envelope.body(),
                key=str(course).encode(),
                headers=envelope.headers(),
            )
        # A later, different event on the same key proves both copies were consumed.
        marker = uuid.uuid4()
        later = Envelope(_request(marker), source=topics.producer_source(topics.INTAKE))
        await producer.send_and_wait(
            stack.topic(topics.INTAKE), later.body(), key=str(course).encode(), headers=later.headers()
        )
    finally:
        await producer.stop()
    assert await wait_for(lambda: _at_least(stack, marker, 1), within=60)
    scheduled = await read_topic(
        stack.infra.kafka_bootstrap, stack.topic(topics.SCHEDULING), lambda rs: len(rs) >= 2, within=15
    )
    print(
        f"duplicates sent=2 appointments={await _appointments(stack, course)} "
        f"AppointmentScheduled on topic={len(scheduled)} (for 2 distinct courses)"
    )
    assert await _appointments(stack, course) == 1
    assert len(scheduled) == 2
    assert (
        await stack.fetchval(
            "scheduling", "SELECT count(*) FROM inbox WHERE event_id = $1", uuid.UUID(envelope.id)
        )
        == 1
    )


async def _at_least(stack: Stack, course: uuid.UUID, n: int) -> bool:
    return await _appointments(stack, course) >= n


async def _cli(env: dict[str, str], *args: str) -> str:
    """Run ``katflow dlq ...`` as an operator would; return what it printed."""
    cmd = [sys.executable, "-m", "katflow_tools.cli", "dlq", *args]
    done = await asyncio.to_thread(subprocess.run, cmd, env=env, capture_output=True, text=True, check=True)
    return done.stdout
