"""Consumer runtime: idempotent handling, classified retries, dead letters, per-partition workers.

Each assigned partition has its own worker task, so a message that is being retried holds back
only its own partition. Offsets are committed only after the handler's unit of work (effect plus
inbox row: ``handling``) committed, or after the message was written to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from .. import tracing
from ..contracts import REGISTRY
from ..contracts.topics import dead_letter_topic, producer_source
from ..settings import ServiceSettings
from ..supervision import stop_process_on_failure
from ..unit_of_work import Units
from . import metrics
from .cloudevents import decode
from .errors import InvalidMessage, classify
from .handling import Handlers as Handlers
from .handling import UseCase as UseCase
from .handling import apply as apply
from .kafka import make_consumer

log = structlog.get_logger()
LAG_REPORT_SECONDS = 1.0  # the lag gauges follow the polls at most this often (scrapes are seconds apart)


class Record(Protocol):
    """The fields of an aiokafka ConsumerRecord this module uses."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


class _Stopping(Exception):
    """Raised inside a worker when shutdown interrupts a retry: the offset is not committed."""


class EventConsumer:
    def __init__(
        self,
        settings: ServiceSettings,
        units: Units,
        producer: AIOKafkaProducer,
        handlers: Handlers,
        name: str = "workflow",
    ) -> None:
        self.settings = settings
        self.units = units  # the runtime's: its emitter and timing reach this process's loops
        self.producer = producer
        self.handlers = dict(handlers)
        self.group = f"katflow-{settings.service_name}-{name}"
        self.topics = sorted({settings.topic(cls.topic) for cls in self.handlers})
        self.dead_letters = settings.topic(dead_letter_topic(settings.service_name))
        self.consumer: AIOKafkaConsumer = make_consumer(settings, self.group)
        self._workers: dict[TopicPartition, _PartitionWorker] = {}
        self._stopping = False
        self._committed_at = 0.0
        self._commit_soon = False  # a dead letter was written: commit past it at the next poll
        self._lag_reported_at = 0.0

    async def run(self) -> None:
        await self.consumer.start()
        self.consumer.subscribe(self.topics, listener=_Rebalance(self))
        try:
            while not self._stopping:
                try:
                    await self._poll_once()
                except KafkaError as exc:  # broker away: the client reconnects; keep going
                    log.warning("consumer_broker_unavailable", error=type(exc).__name__)
                    await asyncio.sleep(1)
        finally:
            await self._stop_workers(list(self._workers))
            await self.consumer.stop()

    async def _poll_once(self) -> None:
        batches = await self.consumer.getmany(timeout_ms=200, max_records=500)
        for tp, records in batches.items():
            self._worker(tp).feed(records)
            if self._workers[tp].backlog() > 1000:
                self.consumer.pause(tp)
        for tp in self.consumer.paused():  # one call: it walks every assigned partition
            worker = self._workers.get(tp)
            if worker is not None and worker.backlog() < 100:
                self.consumer.resume(tp)
        # One OffsetCommit per interval, not per poll (under load that was a broker request per
        # fetch): a crash redelivers handled records, which the inbox skips. Not so for a dead
        # letter (its handler wrote nothing), so past one the commit is not delayed.
        interval = self.settings.consumer_commit_interval_seconds
        if self._commit_soon or time.monotonic() - self._committed_at >= interval:
            self._commit_soon = False
            await self._commit_progress()
            self._committed_at = time.monotonic()
        if time.monotonic() - self._lag_reported_at >= LAG_REPORT_SECONDS:
            self._report_lag()
            self._lag_reported_at = time.monotonic()

    def _report_lag(self) -> None:
        for tp, worker in self._workers.items():
            high = self.consumer.highwater(tp)
            done = worker.done_offset if worker.done_offset is not None else worker.committed_offset
            if high is not None and done is not None:
                worker.lag.set(max(0, high - done))

    async def stop(self) -> None:
        """Stop fetching; in-flight records finish, then offsets are committed."""
        self._stopping = True
        for worker in self._workers.values():
            worker.stopping = True

    def _worker(self, tp: TopicPartition) -> _PartitionWorker:
        if tp not in self._workers:
            self._workers[tp] = _PartitionWorker(self, tp)
        return self._workers[tp]

    async def _commit_progress(self, only: list[TopicPartition] | None = None) -> None:
        offsets = {}
        for tp, worker in self._workers.items():
            if only is not None and tp not in only:
                continue
            if worker.done_offset is not None and worker.done_offset != worker.committed_offset:
                offsets[tp] = worker.done_offset
        if offsets:
            await self.consumer.commit(offsets)
            for tp, offset in offsets.items():
                self._workers[tp].committed_offset = offset

    async def _stop_workers(self, tps: list[TopicPartition]) -> None:
        workers = [self._workers[tp] for tp in tps if tp in self._workers]
        await asyncio.gather(*(w.stop() for w in workers))
        with contextlib.suppress(Exception):
            await self._commit_progress(only=tps)
        for tp in tps:
            if self._workers.pop(tp, None) is not None:  # no longer ours: its lag is another's to report
                with contextlib.suppress(KeyError):
                    metrics.CONSUMER_LAG.remove(self.group, tp.topic, str(tp.partition))

    async def handle(self, record: Record, stopping: Callable[[], bool]) -> None:
        """Process one record to completion: handled, skipped, or dead-lettered."""
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                await self._handle_once(record)
                metrics.HANDLER_SECONDS.labels(self.group).observe(time.perf_counter() - started)
                return
            except Exception as exc:  # classified below: nothing is logged and dropped
                kind = classify(exc)
                if kind == "permanent" or (
                    kind == "unknown" and attempt >= self.settings.consumer_max_attempts
                ):
                    await self._dead_letter_until_written(record, exc, attempt, stopping)
                    self._commit_soon = True
                    return
                delay = min(self.settings.consumer_backoff_max_seconds, 0.2 * 2 ** (attempt - 1))
                log.warning(
                    "handler_retry",
                    error=type(exc).__name__,
                    kind=kind,
                    attempt=attempt,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )
                metrics.RETRIES.labels(self.group, kind).inc()
                if stopping():
                    raise _Stopping from exc
                await asyncio.sleep(delay)

    async def _handle_once(self, record: Record) -> None:
        if self._not_ours(record):
            return  # another service's event on a shared topic: not ours to decode or judge
        envelope = decode(record.headers, record.value)
        handler = self.handlers.get(type(envelope.event))
        if handler is None:
            return
        with (
            tracing.span(
                f"handle {envelope.event.name}",
                envelope.trace_context,
                event_id=envelope.id,
                course_id=envelope.subject,
            ),
            structlog.contextvars.bound_contextvars(
                event_id=envelope.id,
                event_type=envelope.type,
                course_id=envelope.subject,
                correlation_id=envelope.correlation_id,
                causation_id=envelope.causation_id,
            ),
        ):
            if await apply(self.units, self.group, handler, envelope):
                log.info("event_handled")
            else:
                log.info("event_duplicate_skipped")
                metrics.DUPLICATES.labels(self.group).inc()

    def _not_ours(self, record: Record) -> bool:
        """A record whose ce_type names a known event this consumer has no handler for (an unknown
        or missing type is decoded, and dead-lettered, as before). A known type must have come on
        its own topic from its topic's producer (contracts.topics): InvalidMessage otherwise, even
        if this consumer does not handle it."""
        attrs = dict(record.headers or ())  # the last of repeated headers, as decode() reads them
        kind = attrs.get("ce_type")
        cls = REGISTRY.get(kind.decode("utf-8", "replace")) if kind is not None else None
        if cls is None:
            return False
        if record.topic != self.settings.topic(cls.topic):
            raise InvalidMessage(f"{cls.name} does not belong on {record.topic}")
        if attrs.get("ce_source") != producer_source(cls.topic).encode():
            raise InvalidMessage(f"{cls.name} is accepted only from {producer_source(cls.topic)}")
        return cls not in self.handlers

    async def _dead_letter_until_written(
        self, record: Record, error: BaseException, attempts: int, stopping: Callable[[], bool]
    ) -> None:
        """The offset moves on only once the dead letter is on its topic."""
        delay = 0.5
        while True:
            try:
                await self._dead_letter(record, error, attempts)
                return
            except KafkaError as exc:
                log.warning("dead_letter_retry", error=type(exc).__name__)
                if stopping():
                    raise _Stopping from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.consumer_backoff_max_seconds)

    async def _dead_letter(self, record: Record, error: BaseException, attempts: int) -> None:
        headers = [(k, v) for k, v in (record.headers or []) if not k.startswith("dlq_")]
        headers += [
            (k, str(v).encode())
            for k, v in {
                "dlq_source_topic": record.topic,
                "dlq_source_partition": record.partition,
                "dlq_source_offset": record.offset,
                "dlq_consumer_group": self.group,
                "dlq_error_type": type(error).__name__,
                "dlq_error_message": str(error)[:2000],
                "dlq_attempts": attempts,
                "dlq_failed_at": datetime.now(UTC).isoformat(),
            }.items()
        ]
        await self.producer.send_and_wait(
            self.dead_letters, value=record.value, key=record.key, headers=headers
        )
        metrics.DEAD_LETTERS.labels(self.group, type(error).__name__).inc()
        log.error(
            "event_dead_lettered",
            error=type(error).__name__,
            attempts=attempts,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )


class _PartitionWorker:
    """Processes one partition's records in order; tracks the offset safe to commit."""

    def __init__(self, owner: EventConsumer, tp: TopicPartition) -> None:
        self.owner = owner
        self.tp = tp
        self.queue: asyncio.Queue[Record | None] = asyncio.Queue()
        self.done_offset: int | None = None
        self.committed_offset: int | None = None
        self.stopping = False
        self.lag = metrics.CONSUMER_LAG.labels(owner.group, tp.topic, str(tp.partition))
        self.task = asyncio.create_task(self._run(), name=f"partition-{tp.topic}-{tp.partition}")
        self.task.add_done_callback(stop_process_on_failure)

    def feed(self, records: list[Record]) -> None:
        for record in records:
            self.queue.put_nowait(record)

    def backlog(self) -> int:
        return self.queue.qsize()

    async def _run(self) -> None:
        while (record := await self.queue.get()) is not None:
            try:
                await self.owner.handle(record, lambda: self.stopping)
            except _Stopping:
                return
            self.done_offset = record.offset + 1

    async def stop(self) -> None:
        """Finish the record in hand; queued ones are dropped and refetched by the next owner."""
        self.stopping = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)
        await self.task


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: EventConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.owner._stop_workers(list(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None
