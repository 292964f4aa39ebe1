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
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.source = f"/katflow/{settings.service_name}"

    async def emit(
        self,
        conn: asyncpg.Connection,
        event: Event,
        cause: Envelope | None = None,
        *,
        together: Sequence[Part] = (),
        results: Sequence[Part] = (),
    ) -> Envelope:
        """Write ``event`` to the outbox inside the caller's transaction, in one statement with the
        writes ``together`` with it (and their ``results``, e.g. NOTIFYs): see ``db.composed``."""
        envelope = self._envelope(event, cause)
        row = outbox.rows([outbox.values(envelope, self.settings.topic(event.topic))])
        await db.execute_composed(conn, [*together, row], [*results, outbox.ANNOUNCE])
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
    expressions selected after them (``results``: NOTIFYs delivered at commit), for ``db.composed``."""

    parts: Sequence[Part]
    results: Sequence[Part] = ()


@dataclass(frozen=True)
class Planned:
    """A handler that only writes: ``plan(event, envelope)`` says what, without I/O. The consumer
    runs it with the event's inbox row as one statement — one round trip and one commit instead of
    BEGIN, the inbox row, each statement, COMMIT; a redelivered event fails it on the inbox key."""

    plan: Callable[[Any, Envelope], Writes]
