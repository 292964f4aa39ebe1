"""Which records a consumer decodes: another service's known events on a shared topic are passed
over unread; anything it cannot name (no or unknown ce_type) is decoded, so it is dead-lettered."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition

from katflow_shared.contracts import AppointmentScheduled, ConsultationRequested, Event
from katflow_shared.contracts.topics import producer_source
from katflow_shared.messaging.consumer import EventConsumer
from katflow_shared.messaging.errors import InvalidMessage
from katflow_shared.messaging.metrics import CONSUMER_LAG
from katflow_shared.settings import ServiceSettings

NO_UNITS: Any = None  # these tests handle no event


@dataclass
class FakeRecord:
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "t"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    value: bytes | None = b"{}"


async def _handler(event: Any, ctx: Any) -> None:
    raise AssertionError("not called here")


def _on_its_topic(cls: type[Event], settings: ServiceSettings) -> FakeRecord:
    """A record of ``cls`` as its producer sends it: on its topic, with the producer as source."""
    headers = [("ce_type", cls.event_type().encode()), ("ce_source", producer_source(cls.topic).encode())]
    return FakeRecord(headers, topic=settings.topic(cls.topic))


async def test_known_events_without_a_handler_are_passed_over_unread() -> None:  # a loop for aiokafka
    settings = ServiceSettings()
    consumer = EventConsumer(settings, NO_UNITS, None, {ConsultationRequested: _handler})  # type: ignore[arg-type]
    ours = _on_its_topic(ConsultationRequested, settings)
    theirs = _on_its_topic(AppointmentScheduled, settings)
    unknown = FakeRecord([("ce_type", b"io.example.Whatever.v1")])
    nameless = FakeRecord([("ce_id", b"x")])
    assert not consumer._not_ours(ours)
    assert consumer._not_ours(theirs)
    assert not consumer._not_ours(unknown) and not consumer._not_ours(nameless)  # decoded: dead letters
    misplaced = FakeRecord(theirs.headers, topic=ours.topic)  # a known type off its topic: a dead letter
    with pytest.raises(InvalidMessage):
        consumer._not_ours(misplaced)


class StubKafka:
    """What the poll loop asks of AIOKafkaConsumer: fetched batches, pause and resume."""

    def __init__(self, batches: list[dict[Any, list[FakeRecord]]]) -> None:
        self.batches = batches
        self.paused_tps: set[Any] = set()
        self.resumed: list[Any] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, list[FakeRecord]]:
        return self.batches.pop(0) if self.batches else {}

    def pause(self, tp: Any) -> None:
        self.paused_tps.add(tp)

    def paused(self) -> set[Any]:
        return set(self.paused_tps)

    def resume(self, tp: Any) -> None:
        self.paused_tps.discard(tp)
        self.resumed.append(tp)

    def highwater(self, tp: Any) -> int | None:
        return None

    async def commit(self, offsets: Any) -> None:
        return None


async def test_a_partition_with_a_long_backlog_is_paused_until_its_worker_caught_up() -> None:
    busy, quiet = TopicPartition("t", 0), TopicPartition("t", 1)
    kafka = StubKafka([{busy: [FakeRecord(offset=n) for n in range(1001)], quiet: [FakeRecord(partition=1)]}])
    consumer = EventConsumer(ServiceSettings(), NO_UNITS, None, {ConsultationRequested: _handler})  # type: ignore[arg-type]
    consumer.consumer = kafka  # type: ignore[assignment]
    gate, caught_up = asyncio.Event(), asyncio.Event()

    async def handle(record: Any, stopping: Any) -> None:
        await gate.wait()
        if record.partition == busy.partition and consumer._workers[busy].backlog() < 100:
            caught_up.set()

    consumer.handle = handle  # type: ignore[method-assign]
    await consumer._poll_once()
    assert kafka.paused_tps == {busy}  # more than 1,000 waiting; the quiet partition keeps fetching
    await consumer._poll_once()
    assert kafka.resumed == []  # still behind
    gate.set()
    await asyncio.wait_for(caught_up.wait(), 5)
    await consumer._poll_once()
    assert kafka.resumed == [busy] and kafka.paused_tps == set()
    await consumer._stop_workers([busy, quiet])


async def test_a_revoked_partition_no_longer_reports_a_lag() -> None:
    tp = TopicPartition("t", 3)
    consumer = EventConsumer(ServiceSettings(), NO_UNITS, None, {ConsultationRequested: _handler})  # type: ignore[arg-type]
    consumer.consumer = StubKafka([])  # type: ignore[assignment]

    def reported() -> list[str]:
        return [
            s.labels["partition"]
            for m in CONSUMER_LAG.collect()
            for s in m.samples
            if s.labels["topic"] == "t"
        ]

    consumer._worker(tp).lag.set(7)
    assert reported() == ["3"]
    await consumer._stop_workers([tp])  # revoked by a rebalance
    assert reported() == []
