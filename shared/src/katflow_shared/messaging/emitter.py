"""Emitting events: the CloudEvent envelope of an event and its outbox row's values (a unit of work,
``katflow_shared.unit_of_work``, writes them)."""

from __future__ import annotations

from .. import tracing
from ..contracts import Event, topics
from ..settings import ServiceSettings
from ..wakeup import Announcer, Wake
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
