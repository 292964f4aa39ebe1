"""Emitting events: build the CloudEvent envelope and write it to the outbox."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from .. import db
from ..contracts import Event
from ..db import Part
from ..settings import ServiceSettings
from . import context, outbox
from .cloudevents import Envelope


class Emitter:
    def __init__(self, settings: ServiceSettings, relay: outbox.OutboxRelay | None = None) -> None:
        self.settings = settings
        self.source = f"/katflow/{settings.service_name}"
        self.relay = relay  # this process's, if it runs one

    def announce(self) -> list[Part]:
        """What a statement that writes outbox rows in a transaction of its own selects to wake the
        relay (``db.composed``'s results): nothing when this process's relay leads — ``announced()``
        wakes it in-process once the statement has returned, committed — else the NOTIFY, for the
        replica that leads. A NOTIFY costs every listening backend of the database a wake-up; under
        load that was a sixth of the pipeline's CPU (docs/benchmarks.md). Should the leadership
        move between the two, the new leader finds the rows at its next poll."""
        return [] if self.relay is not None and self.relay.leading else [outbox.ANNOUNCE]

    def announced(self) -> None:
        """After a statement composed with ``announce()`` committed: wake this process's relay."""
        if self.relay is not None:
            self.relay.wake()

    async def emit(
        self,
        conn: asyncpg.Connection,
        event: Event,
        cause: Envelope | None = None,
        *,
        together: Sequence[Part] = (),
        results: Sequence[Part] = (),
    ) -> Envelope:
        """Write ``event`` to the outbox inside the caller's transaction (or in one of its own), in
        one statement with the writes ``together`` with it (and their ``results``, e.g. NOTIFYs):
        see ``db.composed``. In a transaction the relay is woken by a NOTIFY at its commit."""
        envelope = self._envelope(event, cause)
        row = outbox.rows([outbox.values(envelope, self.settings.topic(event.topic))])
        alone = not conn.is_in_transaction()
        wake = self.announce() if alone else [outbox.ANNOUNCE]
        await db.execute_composed(conn, [*together, row], [*results, *wake])
        if alone:
            self.announced()
        return envelope

    def outbox_values(self, event: Event) -> tuple[object, ...]:
        """The parameters of ``outbox.INSERT`` for ``event`` (this service's own, no cause), for a
        statement that writes the outbox row together with its change."""
        return outbox.values(self._envelope(event, None), self.settings.topic(event.topic))

    def _envelope(self, event: Event, cause: Envelope | None) -> Envelope:
        """``event`` with this service as its source and the chain's correlation/causation ids."""
        return Envelope(
            event=event,
            source=self.source,
            correlation_id=(cause.correlation_id if cause else None) or context.correlation_id.get(),
            causation_id=cause.id if cause else context.causation_id.get(),
        )


@dataclass(frozen=True)
class HandlerContext:
    """What a consumer handler gets besides its typed event: its transaction and a way to emit."""

    conn: asyncpg.Connection
    envelope: Envelope
    emitter: Emitter

    async def emit(
        self, event: Event, *, together: Sequence[Part] = (), results: Sequence[Part] = ()
    ) -> Envelope:
        return await self.emitter.emit(self.conn, event, self.envelope, together=together, results=results)


@dataclass(frozen=True)
class Writes:
    """All an event changes, for a handler that only writes: statements (``parts``) and the
    expressions selected after them (``results``: NOTIFYs delivered at commit), for ``db.composed``;
    and what to call once they committed (``then``: in-process wake-ups, ``wakeup.Announcer``)."""

    parts: Sequence[Part]
    results: Sequence[Part] = ()
    then: Sequence[Callable[[], None]] = ()

    def __add__(self, other: Writes) -> Writes:
        """These writes and ``other``'s, in one statement."""
        return Writes([*self.parts, *other.parts], [*self.results, *other.results], [*self.then, *other.then])

    async def commit(self, pool: asyncpg.Pool) -> None:
        """Run them as one statement, its own transaction (``db.composed``); once it committed, call
        ``then``."""
        await db.execute_composed(pool, self.parts, self.results)
        for then in self.then:
            then()


@dataclass(frozen=True)
class Planned:
    """A handler that only writes: ``plan(event, envelope)`` says what, without I/O. The consumer
    runs it with the event's inbox row as one statement — one round trip and one commit instead of
    BEGIN, the inbox row, each statement, COMMIT; a redelivered event fails it on the inbox key."""

    plan: Callable[[Any, Envelope], Writes]
