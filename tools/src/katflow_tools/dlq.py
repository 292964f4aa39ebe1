"""Dead letters: list, inspect and replay them (``katflow dlq ...``)."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from katflow_shared.contracts.topics import dead_letter_topic
from katflow_shared.messaging.kafka import client_options
from katflow_shared.settings import ServiceSettings


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v.encode()) for k, v in self.headers.items() if not k.startswith("dlq_")]


async def read_all(settings: ServiceSettings, service: str) -> list[DeadLetter]:
    """Every record on the service's dead-letter topic, oldest first (no consumer group)."""
    topic = settings.topic(dead_letter_topic(service))
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - first look-up
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                letters += [
                    DeadLetter(
                        r.partition,
                        r.offset,
                        r.key,
                        r.value,
                        {k: v.decode(errors="replace") for k, v in r.headers},
                    )
                    for r in records
                ]
        return letters
    finally:
        await consumer.stop()


async def replay(settings: ServiceSettings, letter: DeadLetter, body: bytes | None = None) -> str:
    """Publish the dead letter (or a fixed body) back to its source topic with its original headers."""
    topic = letter.headers["dlq_source_topic"]
    producer = AIOKafkaProducer(**client_options(settings), enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            value=body if body is not None else letter.value,
            key=letter.key,
            headers=letter.original_headers(),
        )
    finally:
        await producer.stop()
    return topic
