"""Settling accepted deliveries: every delivery a provider accepted while a settle statement was in
flight goes in the next statement, together with the others that waited (one round trip for all).
Nothing waits for company: alone, a delivery is settled at once, as before; under load (~300–400
settles a second at saturation on two cores) about five share each statement instead of each
paying its own round trip. The window between a provider's acceptance and the delivery being
recorded (the one in which a crash re-sends a message) grows by at most the statement in flight.

A statement that fails with a database or broker hiccup fails for every delivery in it (each
retries, as before: ``Dispatcher._record_sent``); one that fails otherwise is retried one delivery
at a time, so only the delivery at fault fails and its neighbours are recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg

from katflow_shared.messaging.errors import classify
from katflow_shared.wakeup import Wake

from ..adapters import postgres_settle as store
from ..adapters.postgres_settle import Accepted

Waiting = tuple[Accepted, "asyncio.Future[None]"]


class Settler:
    def __init__(self) -> None:
        self._waiting: dict[asyncpg.Pool, list[Waiting]] = {}
        self._settling: dict[asyncpg.Pool, asyncio.Task[None]] = {}

    async def settle(self, pool: asyncpg.Pool, accepted: Accepted, relay: Wake) -> None:
        """Record ``accepted`` (``store.settle_sent``); returns once its statement committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(pool, []).append((accepted, future))
        if pool not in self._settling:
            self._settling[pool] = asyncio.create_task(self._run(pool, relay))
        await future

    async def _run(self, pool: asyncpg.Pool, relay: Wake) -> None:
        """One statement at a time, each for all that waited."""
        try:
            while batch := self._waiting.pop(pool, []):
                await self._statement(pool, batch, relay)
        finally:
            del self._settling[pool]

    async def _statement(self, pool: asyncpg.Pool, batch: Sequence[Waiting], relay: Wake) -> None:
        try:
            await store.settle_sent(pool, [accepted for accepted, _ in batch], relay)
        except Exception as exc:
            if len(batch) == 1 or classify(exc) == "transient":
                _fail(batch, exc)
                return
            for one in batch:  # only the one at fault fails
                await self._statement(pool, [one], relay)
        except BaseException as exc:
            _fail(batch, exc)
            raise
        else:
            for _, future in batch:
                if not future.done():
                    future.set_result(None)


def _fail(batch: Sequence[Waiting], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
