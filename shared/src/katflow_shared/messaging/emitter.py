"""Emitting events: build the CloudEvent envelope and write it to the outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from .. import tracing
from ..contracts import Event, topics
from ..settings import ServiceSettings
from ..wakeup import Announcer, Wake
from ..writes import Writes as Writes  # moved to katflow_shared.writes; import it from there
from . import context, outbox
from .cloudevents import Envelope


class Emitter:
    def __init__(self, settings: ServiceSettings, announcer: Announcer) -> None:
        self.settings = settings
        self.source = topics.source(settings.service_name)
        # The relay's: attached while this process's relay leads (then new rows wake it in-process).
        self.announcer = announcer

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
        envelope = self.envelope(event, cause)
        row = outbox.rows([self.values(envelope)])
        await ((writes or Writes([])) + Writes([row], wakes=[self.wake])).run(conn)
        return envelope

    def outbox_values(self, event: Event) -> tuple[object, ...]:
        """The parameters of ``outbox.INSERT`` for ``event`` (this service's own, no cause), for a
        statement that writes the outbox row together with its change."""
        return self.values(self.envelope(event, None))

    def values(self, envelope: Envelope) -> tuple[object, ...]:
        """The parameters of ``outbox.INSERT`` for ``envelope`` (on its event's topic here)."""
        return outbox.values(envelope, self.settings.topic(envelope.event.topic))

    def envelope(self, event: Event, cause: Envelope | None) -> Envelope:
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
class Planned:
    """A handler that only writes: ``plan(event, envelope)`` says what, without I/O. The consumer
    runs it with the event's inbox row as one statement — one round trip and one commit instead of
    BEGIN, the inbox row, each statement, COMMIT; a redelivered event fails it on the inbox key."""

    plan: Callable[[Any, Envelope], Writes]
