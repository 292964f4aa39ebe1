"""Emitting events: build the CloudEvent envelope and write it to the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from ..contracts import Event
from ..settings import ServiceSettings
from . import context, outbox
from .cloudevents import Envelope


class Emitter:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.source = f"/katflow/{settings.service_name}"

    async def emit(self, conn: asyncpg.Connection, event: Event, cause: Envelope | None = None) -> Envelope:
        """Write ``event`` to the outbox inside the caller's transaction."""
        envelope = self._envelope(event, cause)
        await outbox.add(conn, envelope, self.settings.topic(event.topic))
        return envelope

    async def emit_all(self, conn: asyncpg.Connection, events: Sequence[Event]) -> list[Envelope]:
        """Write several events of the service's own (no cause) in one round trip, in this order."""
        envelopes = [self._envelope(event, None) for event in events]
        await outbox.add_all(conn, [(e, self.settings.topic(e.event.topic)) for e in envelopes])
        return envelopes

    def _envelope(self, event: Event, cause: Envelope | None) -> Envelope:
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

    async def emit(self, event: Event) -> Envelope:
        return await self.emitter.emit(self.conn, event, cause=self.envelope)
