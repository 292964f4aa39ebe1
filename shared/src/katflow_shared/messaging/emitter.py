"""Emitting events: build the CloudEvent envelope and write it to the outbox."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from .. import db, tracing
from ..contracts import Event, topics
from ..db import Part
from ..settings import ServiceSettings
from ..wakeup import Announcer, Wake, resolved
from . import context, outbox
from .cloudevents import Envelope


class Emitter:
    def __init__(self, settings: ServiceSettings, announcer: Announcer | None = None) -> None:
        self.settings = settings
        self.source = topics.source(settings.service_name)
        # The relay's: attached while this process's relay leads (then new rows wake it in-process).
        self.announcer = announcer or Announcer(outbox.CHANNEL)

    @property
    def wake(self) -> Wake:
        """New outbox rows, for the relay that leads (``Writes.wakes``)."""
        return self.announcer.wake()

    async def emit(
        self,
        conn: asyncpg.Connection,
        event: Event,
        cause: Envelope | None = None,
        *,
        writes: Writes | None = None,
    ) -> Envelope:
        """Write ``event`` to the outbox inside the caller's transaction (or in one of its own), in
        one statement with the ``writes`` that go with it (``Writes.run``), the relay woken."""
        envelope = self._envelope(event, cause)
        row = outbox.rows([outbox.values(envelope, self.settings.topic(event.topic))])
        await ((writes or Writes([])) + Writes([row], wakes=[self.wake])).run(conn)
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
            # The span it is emitted in (an HTTP request's, a consumed event's): its trace goes on.
            trace_context=tracing.current_context(),
        )


@dataclass(frozen=True)
class HandlerContext:
    """What a consumer handler gets besides its typed event: its transaction and a way to emit."""

    conn: asyncpg.Connection
    envelope: Envelope
    emitter: Emitter

    async def emit(self, event: Event, *, writes: Writes | None = None) -> Envelope:
        return await self.emitter.emit(self.conn, event, self.envelope, writes=writes)


@dataclass(frozen=True)
class Writes:
    """Writes that go in one statement (``db.composed``): data-modifying ``parts``, the expressions
    selected after them (``results``), and the loops to wake once they committed (``wakes``: the
    relay, a dispatcher, timer workers; ``wakeup.resolved`` says NOTIFY or in-process)."""

    parts: Sequence[Part]
    results: Sequence[Part] = ()
    wakes: Sequence[Wake] = ()

    def __add__(self, other: Writes) -> Writes:
        """These writes and ``other``'s, in one statement."""
        return Writes(
            [*self.parts, *other.parts], [*self.results, *other.results], [*self.wakes, *other.wakes]
        )

    async def run(self, target: asyncpg.Connection | asyncpg.Pool, head: Part | None = None) -> Any:
        """Run them as one statement (with ``head``: see ``db.composed``) and return the first result:
        in the transaction open on ``target``, or on its own (on a pool, always). The wakes go
        in-process once committed where they can (on its own, or in a ``db.transaction``), by NOTIFY
        at commit otherwise."""
        alone = isinstance(target, asyncpg.Pool) or not target.is_in_transaction()
        later = None if alone else db.after_commit(target)
        notify, then = resolved(self.wakes, in_process=alone or later is not None)
        first = None
        if self.parts or self.results or notify or head:  # else nothing for the database to do
            first = await db.fetchval_composed(target, self.parts, [*self.results, *notify], head)
        if later is not None:
            later.extend(then)
        else:
            for call in then:  # empty unless alone
                call()
        return first


@dataclass(frozen=True)
class Planned:
    """A handler that only writes: ``plan(event, envelope)`` says what, without I/O. The consumer
    runs it with the event's inbox row as one statement — one round trip and one commit instead of
    BEGIN, the inbox row, each statement, COMMIT; a redelivered event fails it on the inbox key."""

    plan: Callable[[Any, Envelope], Writes]
