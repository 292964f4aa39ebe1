"""Settling accepted deliveries: every delivery a provider accepted while a settle statement was in
flight goes in the next statement, together with the others that waited (one round trip for all):
one unit of work (``Units.start(one_statement=True)``) with each delivery's state, attempt, audit
record and NotificationSent.
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
from katflow_shared.unit_of_work import Units

from ..adapters import postgres_settle as store
from ..adapters.postgres_settle import Accepted

Waiting = tuple[Accepted, "asyncio.Future[None]"]


class Settler:
    def __init__(self) -> None:
        self._waiting: dict[asyncpg.Pool, list[Waiting]] = {}
        self._settling: dict[asyncpg.Pool, asyncio.Task[None]] = {}

    async def settle(self, units: Units, accepted: Accepted) -> None:
        """Record ``accepted``; returns once its statement committed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pool = units.pool
        self._waiting.setdefault(pool, []).append((accepted, future))
        if pool not in self._settling:
            self._settling[pool] = asyncio.create_task(self._run(units))
        await future

    async def _run(self, units: Units) -> None:
        """One statement at a time, each for all that waited."""
        try:
            while batch := self._waiting.pop(units.pool, []):
                await self._statement(units, batch)
        finally:
            del self._settling[units.pool]

    async def _statement(self, units: Units, batch: Sequence[Waiting]) -> None:
        try:
            await _settle(units, [accepted for accepted, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or classify(exc) == "transient":
                _fail(batch, exc)
                return
            for one in batch:  # only the one at fault fails
                await self._statement(units, [one])
        except BaseException as exc:
            _fail(batch, exc)
            raise
        else:
            for _, future in batch:
                if not future.done():
                    future.set_result(None)


async def _settle(units: Units, accepted: Sequence[Accepted]) -> None:
    """``accepted`` settled in one statement and transaction of its own."""
    async with units.start(one_statement=True) as uow:
        uow.write(*store.settled(accepted))
        for a in accepted:
            uow.audit(a.audited)
            if a.announced is not None:
                uow.emit(a.announced)


def _fail(batch: Sequence[Waiting], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
