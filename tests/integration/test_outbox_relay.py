"""The outbox relay against real PostgreSQL and Kafka: of several relays on one database exactly one
publishes (the one holding the leadership lock on its own connection); every committed event reaches
the topic in id order; when the leader's connection is cut another relay takes over within its poll
interval and nothing is lost; what is published leaves the outbox, also when a relay is drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from katflow_shared import timers
from katflow_shared.clock import SystemClock
from katflow_shared.contracts import ConsultationRequested
from katflow_shared.contracts.topics import INTAKE
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.messaging.kafka import delete_topics, ensure_topics
from katflow_shared.messaging.outbox import CHANNEL, OutboxRelay
from katflow_shared.settings import ServiceSettings
from katflow_shared.unit_of_work import Units
from katflow_shared.wakeup import Announcer
from tests.support.databases import migrated_database
from tests.support.infra import Infra

pytestmark = pytest.mark.timeout(120)
COURSE = uuid.UUID(int=7)  # one key: one partition, so the topic's order is the relays' order


def units(pool: asyncpg.Pool, emitter: Emitter) -> Units:
    return Units(pool, SystemClock(), emitter, Announcer(timers.CHANNEL))


@dataclass
class Outbox:
    settings: ServiceSettings
    pool: asyncpg.Pool
    admin: asyncpg.Connection
    name: str

    def relay(self) -> OutboxRelay:
        return OutboxRelay(self.settings)

    async def emit(self, count: int) -> list[str]:
        """``count`` events, each committed in its own transaction (as requests would); their ids."""
        emitter, ids = Emitter(self.settings, Announcer(CHANNEL)), []
        for _ in range(count):
            event = ConsultationRequested(
                consultation_request_id=uuid.uuid4(),
                course_id=COURSE,
                patient_id=uuid.uuid4(),
                patient_time_zone="UTC",
                requested_at=datetime.now(UTC),
            )
            async with units(self.pool, emitter).start() as uow:
                ids.append(uow.emit(event).id)
        return ids

    async def unpublished(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM outbox"))

    async def leaders(self) -> list[int]:
        """Backends of this database holding the relay's leadership lock."""
        rows = await self.admin.fetch(
            "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = $1",
            self.name,
        )
        return [r["pid"] for r in rows]

    async def on_topic(self, expected: int, within: float = 30) -> list[str]:
        """The event ids on the topic once ``expected`` distinct ones are there, in topic order."""
        consumer = AIOKafkaConsumer(
            self.settings.topic(INTAKE),
            bootstrap_servers=self.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await consumer.start()
        ids: list[str] = []
        try:
            async with asyncio.timeout(within):
                while len(set(ids)) < expected:
                    for batch in (await consumer.getmany(timeout_ms=200)).values():
                        ids += [dict(r.headers)["ce_id"].decode() for r in batch]
        finally:
            await consumer.stop()
        return ids


@pytest.fixture
async def outbox(infra: Infra) -> AsyncIterator[Outbox]:
    async with migrated_database(infra, "relay_it") as db:
        settings = db.settings(
            service_name="intake",
            kafka_bootstrap=infra.kafka_bootstrap,
            topic_prefix=f"relay{uuid.uuid4().hex[:10]}.",
            outbox_poll_seconds=0.5,
            outbox_batch_size=7,  # several batches per test
        )
        created = await ensure_topics(settings)
        yield Outbox(settings, db.pool, db.scratch.admin, db.scratch.name)
        await delete_topics(infra.kafka_bootstrap, created)


@contextlib.asynccontextmanager
async def running(*relays: OutboxRelay) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        yield
    finally:
        for relay in relays:
            await relay.drain(5)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_one_of_several_relays_publishes_every_event_once_in_order(outbox: Outbox) -> None:
    async with running(outbox.relay(), outbox.relay(), outbox.relay()):
        ids = await outbox.emit(40)
        on_topic = await outbox.on_topic(len(ids))
        assert len(await outbox.leaders()) == 1
    assert on_topic == ids  # each once, in commit order
    assert await outbox.unpublished() == 0


async def test_another_relay_takes_over_when_the_leader_is_cut_off(outbox: Outbox) -> None:
    async with running(outbox.relay(), outbox.relay()):
        first = await outbox.emit(10)
        await outbox.on_topic(len(first))
        [leader] = await outbox.leaders()
        assert await outbox.admin.fetchval("SELECT pg_terminate_backend($1)", leader)
        second = await outbox.emit(10)
        on_topic = await outbox.on_topic(len(first) + len(second))
        [new_leader] = await outbox.leaders()
        assert new_leader != leader
    # nothing lost; a row published but not yet marked when the lock moved may appear twice, with
    # its one ce_id (consumers dedupe), and the first copies keep their order
    assert list(dict.fromkeys(on_topic)) == first + second
    assert await outbox.unpublished() == 0


async def test_drain_publishes_and_removes_what_was_committed(outbox: Outbox) -> None:
    relay = outbox.relay()
    task = asyncio.create_task(relay.run())
    try:
        await outbox.emit(1)
        await outbox.on_topic(1)
        await relay.drain(5)  # the last batch's removal rides on a read that drain makes itself
        assert await outbox.unpublished() == 0
        assert await outbox.leaders() == []  # the leadership is let go
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_write_in_the_leading_relays_process_wakes_it_without_a_notify(outbox: Outbox) -> None:
    """An event written in the process whose relay leads — in a statement of its own, or in a
    ``db.transaction`` — wakes that relay in-process after the commit: published at once, with no
    NOTIFY. Written in another process (its relay does not lead) or inside a plain transaction
    (whose commit the writer does not see), the NOTIFY wakes the leader as before. The poll is 30 s
    here, so only a wake-up can publish within the test's few seconds."""
    settings = outbox.settings.model_copy(update={"outbox_poll_seconds": 30.0})
    first, second = OutboxRelay(settings), OutboxRelay(settings)
    heard: list[str] = []
    listener = await asyncpg.connect(settings.database_url.get_secret_value())
    await listener.add_listener(CHANNEL, lambda *args: heard.append(args[2]))
    try:
        async with running(first, second):
            for _ in range(200):  # one of them takes the leadership at its first look
                if first.leading or second.leading:
                    break
                await asyncio.sleep(0.05)
            leader, other = (first, second) if first.leading else (second, first)
            event = partial(ConsultationRequested, course_id=COURSE, patient_time_zone="UTC")

            async def emit(relay: OutboxRelay, transaction: str = "") -> str:
                e = event(
                    consultation_request_id=uuid.uuid4(),
                    patient_id=uuid.uuid4(),
                    requested_at=datetime.now(UTC),
                )
                emitting = units(outbox.pool, Emitter(settings, relay.announcer))
                if transaction == "plain":  # a transaction the unit did not open: NOTIFY at commit
                    async with outbox.pool.acquire() as conn, conn.transaction(), emitting.on(conn) as uow:
                        return uow.emit(e).id
                async with emitting.start(one_statement=not transaction) as uow:
                    return uow.emit(e).id

            ids = [await emit(leader), await emit(leader, transaction="db.transaction")]
            assert set(await outbox.on_topic(2, within=5)) == set(ids)
            await asyncio.sleep(0.2)  # a NOTIFY would have arrived by now
            assert heard == []
            ids += [await emit(other), await emit(leader, transaction="plain")]
            assert set(await outbox.on_topic(4, within=5)) == set(ids)
            assert heard == [CHANNEL, CHANNEL]
    finally:
        await listener.close()
