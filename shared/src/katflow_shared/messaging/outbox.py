"""Transactional outbox: write events with the state change, publish them from a relay.

``add`` runs inside the caller's transaction. ``OutboxRelay`` publishes unpublished rows in id
order with the idempotent producer, woken by LISTEN/NOTIFY with a polling fallback. Each batch is
claimed with ``FOR UPDATE SKIP LOCKED`` after taking a transaction-scoped advisory lock, so with
several replicas exactly one relays at a time and per-key order is kept; the others stand by.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ..settings import ServiceSettings
from ..wakeup import Wakeup
from . import metrics
from .cloudevents import Envelope
from .errors import TRANSIENT_TYPES
from .kafka import make_producer

log = structlog.get_logger()

CHANNEL = "katflow_outbox"
RELAY_LOCK_ID = 0x6F7574626F78  # "outbox"


# One round trip: the INSERT runs as a data-modifying CTE (always executed, in this transaction) and the
# NOTIFY is delivered at commit as before.
INSERT = "INSERT INTO outbox(event_id, topic, key, headers, payload) VALUES ($1, $2, $3, $4, $5)"
ADD = f"WITH added AS ({INSERT}) SELECT pg_notify($6, '')"
# The advisory lock is an InitPlan evaluated once, before any row is read: a stand-by replica reads
# nothing, and the lock and the batch cost one round trip instead of two.
CLAIM = (
    "WITH relay AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($2) AS held)"
    " SELECT o.id, o.topic, o.key, o.headers, o.payload FROM outbox o"
    " WHERE (SELECT held FROM relay) AND o.published_at IS NULL"
    " ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED"
)


def values(envelope: Envelope, topic: str) -> tuple[object, ...]:
    """The parameters of ``INSERT`` for ``envelope`` on ``topic``."""
    headers = json.dumps([[k, v.decode()] for k, v in envelope.headers()])
    return (envelope.id, topic, envelope.subject, headers, envelope.body())


async def add(conn: asyncpg.Connection, envelope: Envelope, topic: str) -> None:
    """Record an event to publish; call inside the transaction that makes the change."""
    await conn.execute(ADD, *values(envelope, topic), CHANNEL)


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, settings: ServiceSettings) -> None:
        self.pool = pool
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None
        self.batch_size = settings.outbox_batch_size
        self.poll_seconds = settings.outbox_poll_seconds
        self._wakeup = Wakeup(settings.database_url.get_secret_value(), CHANNEL)
        self._stopping = False

    async def run(self) -> None:
        """Publish until stop(); survives database and broker outages."""
        try:
            while not self._stopping:
                try:
                    await self._wakeup.listen()
                    if self.producer is None:
                        self.producer = make_producer(self.settings)
                        await self.producer.start()
                    published = await self.publish_batch()
                    if published < self.batch_size:
                        await self._wakeup.wait(self.poll_seconds)
                except KafkaError as exc:
                    # After a broker outage the idempotent producer can be left with sequence numbers
                    # the broker refuses (OutOfOrderSequenceNumber): start over with a fresh producer
                    # id. Unmarked rows are simply published again; consumers dedupe on the event id.
                    log.warning("outbox_relay_producer_reset", error=type(exc).__name__)
                    await self._close_producer()
                    await asyncio.sleep(1.0)
                except TRANSIENT_TYPES as exc:
                    log.warning("outbox_relay_retry", error=type(exc).__name__)
                    self._wakeup.drop()
                    await asyncio.sleep(1.0)
        finally:
            await self._wakeup.close()

    async def _close_producer(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def publish_batch(self) -> int:
        """Publish one batch in id order; rows are marked only after the broker acknowledged all."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(CLAIM, self.batch_size, RELAY_LOCK_ID)
            if not rows:
                return 0
            assert self.producer is not None
            futures = [await self.producer.send(**_record(row)) for row in rows]
            await asyncio.gather(*futures)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
        metrics.OUTBOX_PUBLISHED.inc(len(rows))
        return len(rows)

    async def drain(self, bound: float) -> None:
        """On shutdown: publish what is committed, within a bound."""
        self._stopping = True
        self._wakeup.set()
        with contextlib.suppress(TimeoutError, *TRANSIENT_TYPES):
            async with asyncio.timeout(bound):
                while self.producer is not None and await self.publish_batch() > 0:
                    pass
        await self._close_producer()


def _record(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "topic": row["topic"],
        "key": row["key"].encode(),
        "value": bytes(row["payload"]),
        "headers": [(k, v.encode()) for k, v in json.loads(row["headers"])],
    }
