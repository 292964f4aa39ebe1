"""The two limits the pipeline is compared with, on the same broker and database.

- ``raw_kafka``: aiokafka produce → consume of records the size of the pipeline's events (a real
  ConsultationRequested CloudEvent: same headers, same body), with the services' producer and
  consumer settings (idempotent, acks=all, read_committed). No database.
- ``consume_txn_produce``: the skeleton of one consumer hop with no application code: consume a
  record, run one PostgreSQL transaction (the inbox insert plus one row holding the record, on the
  real katflow schema), produce the record to the next topic. One worker per partition and the
  services' pool size, as the services run. No decoding, no handler, no logging.

Each reports records/s from the first record sent (or consumed) to the last one acknowledged.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from katflow_shared.contracts import ConsultationRequested
from katflow_shared.db import create_pool, migrate
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.inbox import first_delivery
from katflow_shared.messaging.kafka import delete_topics, make_consumer, make_producer
from katflow_shared.settings import ServiceSettings

from .stats import rate


@dataclass(frozen=True)
class BaselineResult:
    name: str
    records: int
    seconds: float
    record_bytes: int
    cpu_seconds: float | None = None  # this process, the broker and the loop's database backends

    @property
    def per_second(self) -> float:
        return rate(self.records, self.seconds)

    def as_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.per_second, 1),
            "record_bytes": self.record_bytes,
            "cpu_ms_per_record": (
                round(1000 * self.cpu_seconds / self.records, 3)
                if self.cpu_seconds and self.records
                else None
            ),
        }


def sample_record() -> tuple[bytes, list[tuple[str, bytes]]]:
    """Body and headers of a real pipeline event (ConsultationRequested as intake emits it)."""
    event = ConsultationRequested(
        consultation_request_id=uuid.uuid4(),
        course_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        patient_time_zone="America/Chicago",
        requested_at=datetime.now(UTC),
    )
    envelope = Envelope(event=event, source="/katflow/intake", correlation_id=str(uuid.uuid4()))
    return envelope.body(), envelope.headers()


def record_size(body: bytes, headers: list[tuple[str, bytes]]) -> int:
    return len(body) + sum(len(k) + len(v) for k, v in headers) + 36  # + key (a UUID)


async def create_topics(settings: ServiceSettings, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, settings.kafka_replication_factor) for n in names])
    finally:
        await admin.close()


async def _produce(producer: AIOKafkaProducer, topic: str, count: int, distinct: bool = False) -> None:
    """``count`` copies of one pipeline event; ``distinct``: each with an event id of its own (ce_id),
    as the pipeline's events have, so that an inbox takes every one as a first delivery."""
    body, headers = sample_record()
    futures = []
    for _ in range(count):
        if distinct:
            headers = [(k, str(uuid.uuid4()).encode() if k == "ce_id" else v) for k, v in headers]
        futures.append(
            await producer.send(topic, value=body, key=str(uuid.uuid4()).encode(), headers=headers)
        )
    await asyncio.gather(*futures)


async def _consume_until(consumer: AIOKafkaConsumer, count: int, within: float) -> int:
    seen = 0
    deadline = time.monotonic() + within
    while seen < count and time.monotonic() < deadline:
        for batch in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
            seen += len(batch)
    return seen


async def raw_kafka(
    settings: ServiceSettings, prefix: str, count: int, partitions: int = 6
) -> BaselineResult:
    """Produce ``count`` records while one consumer reads them; time from first send to last read."""
    topic = f"{prefix}baseline.raw"
    await create_topics(settings, [topic], partitions)
    producer = make_producer(settings)
    consumer = make_consumer(settings, f"{prefix}baseline-raw")
    await producer.start()
    await consumer.start()
    try:
        consumer.subscribe([topic])
        while not consumer.assignment():  # joined the group: timing starts with both sides ready
            await consumer.getmany(timeout_ms=100)
        started = time.monotonic()
        producing = asyncio.create_task(_produce(producer, topic, count))
        seen = await _consume_until(consumer, count, within=120)
        await producing
        seconds = time.monotonic() - started
    finally:
        await consumer.stop()
        await producer.stop()
        await delete_topics(settings.kafka_bootstrap, [topic])
    body, headers = sample_record()
    return BaselineResult("raw aiokafka produce→consume", seen, seconds, record_size(body, headers))


async def consume_txn_produce(
    settings: ServiceSettings,
    prefix: str,
    database_url: str,
    count: int,
    partitions: int = 6,
    pool_size: int = 10,
    cpu_now: Callable[[], float] | None = None,
) -> BaselineResult:
    """Seed ``count`` records, then time the loop that moves them all to the next topic;
    ``cpu_now``: CPU seconds used so far by what the loop runs on, read at the loop's two ends."""
    source, sink = f"{prefix}baseline.in", f"{prefix}baseline.out"
    await create_topics(settings, [source, sink], partitions)
    seeder = make_producer(settings)
    await seeder.start()
    try:
        await _produce(seeder, source, count, distinct=True)
    finally:
        await seeder.stop()
    pool = await create_pool(database_url, pool_size)  # the services' pool (and its release policy)
    await migrate(pool, ["katflow_shared"])
    producer = make_producer(settings)
    consumer = make_consumer(settings, f"{prefix}baseline-loop")
    await producer.start()
    await consumer.start()
    group = f"{prefix}baseline-loop"
    done: dict[TopicPartition, int] = {}
    acked: list[asyncio.Future[Any]] = []
    queues: dict[TopicPartition, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
    workers: dict[TopicPartition, asyncio.Task[None]] = {}
    handled = 0

    async def work(tp: TopicPartition) -> None:
        nonlocal handled
        queue = queues[tp]
        while True:
            record = await queue.get()
            event_id = dict(record.headers)["ce_id"].decode()
            async with pool.acquire() as conn, conn.transaction():
                if await first_delivery(conn, group, event_id):
                    await conn.execute(
                        "INSERT INTO outbox(event_id, topic, key, headers, payload, published_at)"
                        " VALUES ($1, $2, $3, '[]', $4, now())",
                        str(uuid.uuid4()),
                        sink,
                        record.key.decode(),
                        record.value,
                    )
            acked.append(
                await producer.send(sink, value=record.value, key=record.key, headers=list(record.headers))
            )
            done[tp] = record.offset + 1
            handled += 1

    try:
        consumer.subscribe([source])
        started: float | None = None
        cpu_at_start: float | None = None
        committed: dict[TopicPartition, int] = {}
        deadline = time.monotonic() + 300
        while handled < count and time.monotonic() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=100, max_records=500)).items():
                if started is None:
                    started = time.monotonic()
                    cpu_at_start = cpu_now() if cpu_now else None
                if tp not in workers:
                    workers[tp] = asyncio.create_task(work(tp))
                    workers[tp].add_done_callback(_raise_in_loop)
                for record in records:
                    queues[tp].put_nowait(record)
            for task in workers.values():
                if task.done():
                    task.result()  # a worker failed: the baseline is invalid, say why
            if progress := {tp: o for tp, o in done.items() if committed.get(tp) != o}:
                await consumer.commit(progress)
                committed.update(progress)
        await asyncio.gather(*acked)
        seconds = time.monotonic() - (started or time.monotonic())
        cpu_used = cpu_now() - cpu_at_start if cpu_now and cpu_at_start is not None else None
        if handled < count:
            raise RuntimeError(f"the loop moved {handled} of {count} records within its deadline")
        written = await pool.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", sink)
        if written != handled:  # every record must have been one transaction that wrote (and fsynced)
            raise RuntimeError(f"the loop handled {handled} records but wrote {written} rows")
    finally:
        for task in workers.values():
            task.cancel()
        await consumer.stop()
        await producer.stop()
        await pool.close()
        await delete_topics(settings.kafka_bootstrap, [source, sink])
    body, headers = sample_record()
    return BaselineResult(
        "consume → PostgreSQL txn → produce", handled, seconds, record_size(body, headers), cpu_used
    )


def _raise_in_loop(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        asyncio.get_running_loop().call_exception_handler(
            {"message": "baseline worker failed", "exception": task.exception()}
        )
