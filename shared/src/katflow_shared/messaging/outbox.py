"""Transactional outbox: write events with the state change, publish them from a relay.

``add`` runs inside the caller's transaction. ``OutboxRelay`` publishes unpublished rows in id
order with the idempotent producer, woken by LISTEN/NOTIFY with a polling fallback. With several
replicas exactly one relays at a time, so per-key order is kept: the one whose own connection holds
a session-level advisory lock (the relay's leadership, released when that connection ends, by a
clean stop, a crash or a lost connection); the others try for it every poll interval.

A batch costs one round trip: the statement that reads it also removes the batch before it, whose
broker acknowledgements are in hand. Rows leave the outbox only after the broker acknowledged them;
published events live on in Kafka (and what was done, in the audit log), so the table holds only what
is still to be published and stays small (a marked, ever-growing table made every read walk past the
index entries of rows published since the last vacuum). ``published_at`` is no longer set; rows an
older release marked are skipped as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ..db import GENERIC_PLANS, Part, renumbered
from ..settings import ServiceSettings
from ..wakeup import Announcer, Wakeup
from . import metrics
from .cloudevents import Envelope
from .errors import TRANSIENT_TYPES
from .kafka import make_producer

log = structlog.get_logger()

CHANNEL = "katflow_outbox"
RELAY_LOCK_ID = 0x6F7574626F78  # "outbox"


# Events are written by ``rows`` with the relay's wake-up (Emitter.emit, Writes.run: one round trip,
# in the caller's transaction or on its own).
ROW = "($1, $2, $3, $4, $5)"
INSERT = "INSERT INTO outbox(event_id, topic, key, headers, payload) VALUES ($1, $2, $3, $4, $5)"
LEAD = "SELECT pg_try_advisory_lock($1)"  # session-level: held until the relay's connection ends
# Remove the batch published before (acknowledged by the broker) and read the next one, in one round
# trip. The read's snapshot predates the removal, so the removed ids are left out by hand.
NEXT = (
    "WITH published AS (DELETE FROM outbox WHERE id = ANY($1::bigint[]))"
    " SELECT id, topic, key, headers, payload FROM outbox"
    " WHERE published_at IS NULL AND id <> ALL($1::bigint[]) ORDER BY id LIMIT $2"
)


def rows(values: Sequence[tuple[object, ...]]) -> Part:
    """One ``INSERT`` of several events (``values`` of each) for ``db.composed``: their outbox ids,
    and so their publishing order, follow the order given. Wake the relay with it (``Emitter.wake``)."""
    more = "".join(", " + renumbered(ROW, n * 5) for n in range(1, len(values)))  # 5 columns a row
    return INSERT + more, [v for row in values for v in row]


def values(envelope: Envelope, topic: str) -> tuple[object, ...]:
    """The parameters of ``INSERT`` for ``envelope`` on ``topic``."""
    headers = json.dumps([[k, v.decode()] for k, v in envelope.headers()])
    return (envelope.id, topic, envelope.subject, headers, envelope.body())


class OutboxRelay:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None
        self.batch_size = settings.outbox_batch_size
        self.poll_seconds = settings.outbox_poll_seconds
        self._dsn = settings.database_url.get_secret_value()
        self._wakeup = Wakeup(self._dsn, CHANNEL)
        self.announcer = Announcer(CHANNEL)  # this process's writers': told while we lead
        self._conn: asyncpg.Connection | None = None  # our own: the leadership lock is its session's
        self._leading = False
        self._acknowledged: list[int] = []  # published, to be removed by the next read
        self._busy = asyncio.Lock()  # the run loop and drain() share the connection: one at a time
        self._stopping = False

    async def run(self) -> None:
        """Publish until stop(); survives database and broker outages."""
        try:
            while not self._stopping:
                try:
                    await self._wakeup.listen()
                    async with self._busy:  # not while drain() publishes on the connection
                        leading = not self._stopping and await self._lead()
                    if not leading:
                        await asyncio.sleep(0 if self._stopping else self.poll_seconds)  # another relays
                        continue
                    if self.producer is None:
                        self.producer = make_producer(self.settings)
                        await self.producer.start()
                    async with self._busy:
                        published = await self.publish_batch() if not self._stopping else 0
                    if published < self.batch_size:  # all there was: wait for more (or the poll)
                        await self._wakeup.wait(self.poll_seconds)
                except KafkaError as exc:
                    # After a broker outage the idempotent producer can be left with sequence numbers
                    # the broker refuses (OutOfOrderSequenceNumber): start over with a fresh producer
                    # id. Rows still there are simply published again; consumers dedupe on the event id.
                    log.warning("outbox_relay_producer_reset", error=type(exc).__name__)
                    await self._close_producer()
                    await asyncio.sleep(1.0)
                except TRANSIENT_TYPES as exc:
                    log.warning("outbox_relay_retry", error=type(exc).__name__)
                    self._wakeup.drop()
                    self._drop_connection()
                    await asyncio.sleep(1.0)
        finally:
            await self._wakeup.close()  # the connection is drain()'s to finish with and close

    @property
    def leading(self) -> bool:
        """Whether this relay publishes (holds the leadership) as far as it knows."""
        return self._leading

    def _set_leading(self, leading: bool) -> None:
        """Leading, this process's writers wake the relay in-process; else by NOTIFY, for the
        replica that leads (should the leadership move meanwhile, the new leader finds the rows at
        its next poll)."""
        self._leading = leading
        if leading:
            self.announcer.attach(self._wakeup)
        else:
            self.announcer.detach(self._wakeup)

    async def _lead(self) -> bool:
        """Whether this relay leads, trying for the leadership (on its own connection) if not."""
        if self._conn is None or self._conn.is_closed():
            self._drop_connection()
            self._conn = await asyncpg.connect(self._dsn, server_settings=GENERIC_PLANS)
        if not self._leading:
            self._set_leading(bool(await self._conn.fetchval(LEAD, RELAY_LOCK_ID)))
            if self._leading:
                log.info("outbox_relay_leading")
        return self._leading

    async def _close_producer(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    def _drop_connection(self) -> None:
        """Forget the connection (and with it the leadership) after a database error."""
        conn, self._conn = self._conn, None
        self._set_leading(False)
        self._acknowledged = []  # still there: published again by whoever leads next
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._set_leading(False)
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=2)
            except Exception:
                conn.terminate()

    async def publish_batch(self) -> int:
        """Remove what the broker acknowledged, read the next batch in id order and publish it; its
        rows are removed by the next call (when more is committed, or at the latest after the poll
        interval: meanwhile they are left out of every read)."""
        assert self._conn is not None and self.producer is not None
        rows = await self._conn.fetch(NEXT, self._acknowledged, self.batch_size)
        self._acknowledged = []
        if not rows:
            return 0
        futures = [await self.producer.send(**_record(row)) for row in rows]
        await asyncio.gather(*futures)
        self._acknowledged = [row["id"] for row in rows]
        metrics.OUTBOX_PUBLISHED.inc(len(rows))
        return len(rows)

    async def drain(self, bound: float) -> None:
        """On shutdown: publish what is committed and remove it, within a bound; then let go of the
        leadership."""
        self._stopping = True
        self._wakeup.set()
        with contextlib.suppress(TimeoutError, *TRANSIENT_TYPES):
            async with asyncio.timeout(bound), self._busy:
                if self.producer is not None and self._leading and self._conn and not self._conn.is_closed():
                    while await self.publish_batch() > 0:
                        pass
        await self._close_producer()
        await self._close_connection()


def _record(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "topic": row["topic"],
        "key": row["key"].encode(),
        "value": bytes(row["payload"]),
        "headers": [(k, v.encode()) for k, v in json.loads(row["headers"])],
    }
