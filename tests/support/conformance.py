"""CloudEvents conformance of what is really on the topics: every record parsed by the official
`cloudevents` SDK's Kafka binding and its data validated against the published JSON Schema."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import jsonschema
from aiokafka import AIOKafkaConsumer, TopicPartition
from cloudevents.v1.kafka import KafkaMessage, from_binary

from katflow_shared.contracts import REGISTRY
from katflow_shared.contracts.topics import WORKFLOW_TOPICS

from .infra import REPO
from .stack import Stack

SCHEMAS = REPO / "docs" / "schemas"


def _schema(name: str, version: int) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((SCHEMAS / name / f"v{version}.json").read_text())
    return loaded


async def _all_records(stack: Stack, topic: str, partitions: int) -> list[KafkaMessage]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.infra.kafka_bootstrap,
        enable_auto_commit=False,
        group_id=f"conformance-{uuid.uuid4()}",
    )
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[KafkaMessage] = []
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                out += [KafkaMessage(dict(r.headers), r.key, r.value) for r in batch]
        return out
    finally:
        await consumer.stop()


async def assert_conformant(stack: Stack) -> Counter[str]:
    """Check every record on every workflow topic of this stack; return the event names seen."""
    seen: Counter[str] = Counter()
    for spec in WORKFLOW_TOPICS:
        for message in await _all_records(stack, stack.topic(spec.name), spec.partitions):
            event = from_binary(message, data_unmarshaller=json.loads)
            assert event["specversion"] == "1.0" and event["id"] and event["source"]
            cls = REGISTRY[event["type"]]
            schema = _schema(cls.name, cls.version)
            assert event["dataschema"] == schema["$id"]
            jsonschema.validate(event.data, schema, cls=jsonschema.Draft202012Validator)
            assert message.key is not None and event["subject"] == message.key.decode()
            seen[cls.name] += 1
    return seen


def schema_files() -> list[Path]:
    return sorted(SCHEMAS.glob("*/v*.json"))
