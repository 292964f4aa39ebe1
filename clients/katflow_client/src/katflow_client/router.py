"""A FastStream ``KafkaRouter`` for katflow's events: one subscriber per topic, a handler per event
type (chosen by ``ce_type``), the body decoded and validated into the event's model.

Types on a topic that no handler was registered for are passed over (acknowledged, not an error);
a record that is not a valid katflow event (``InvalidMessage``) fails its handler call as FastStream
handles errors: it is logged and, with ``AckPolicy.ACK``, its offset is committed. FastStream (0.7)
has no dead-letter topic or retry delay: keep such records yourself if you need them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaRouter
from faststream.kafka.message import KafkaMessage
from faststream.message import StreamMessage

from katflow_shared.contracts import Event

from .cloudevents import CloudEvent, decode_record

E = TypeVar("E", bound=Event)
F = TypeVar("F", bound=Callable[..., Any])


def cloud_event(message: StreamMessage[Any]) -> CloudEvent:
    """The CloudEvent of a message a handler got (its attributes: ``id``, ``source``, ``time``,
    ``correlation_id``, ``causation_id``, ...). In a handler: ``message: KafkaMessage``, then
    ``cloud_event(message)``."""
    cached = getattr(message, "_katflow_cloud_event", None)
    if isinstance(cached, CloudEvent):
        return cached
    raw = message.raw_message
    record = raw[-1] if isinstance(raw, tuple) else raw
    event = decode_record(getattr(record, "headers", None), message.body)
    message._katflow_cloud_event = event  # type: ignore[attr-defined]
    return event


async def decode_event(message: KafkaMessage) -> Any:
    """FastStream decoder: the record as its event model (validated, unknown fields dropped)."""
    return cloud_event(message).event


def _undecoded(_message: KafkaMessage) -> None:
    return None


async def _passed_over() -> None:
    return None


class KatflowRouter(KafkaRouter):
    """Subscribe to katflow event types with one consumer group.

    ``topic_prefix`` is prepended to katflow's topic names (for a test stack's topics; empty in a
    deployment). Further keyword arguments go to ``KafkaRouter``; ``subscriber_options`` to every
    subscriber this router makes. Defaults: ``auto_offset_reset="earliest"`` (a new group reads the
    retained history first) and ``ack_policy=AckPolicy.ACK`` (the offset is committed after the
    handler returned, so a crash mid-handling means a redelivery; FastStream's own default,
    ACK_FIRST, commits before and would lose that record). Deduplicate on ``cloud_event(m).id``."""

    def __init__(
        self,
        group_id: str,
        *,
        topic_prefix: str = "",
        subscriber_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.group_id = group_id
        self.topic_prefix = topic_prefix
        self.subscriber_options = {
            "auto_offset_reset": "earliest",
            "ack_policy": AckPolicy.ACK,
            **(subscriber_options or {}),
        }
        self._by_topic: dict[str, Any] = {}
        self._types_handled: dict[str, set[str]] = {}

    def topic_of(self, event: type[Event]) -> str:
        return self.topic_prefix + event.topic

    def on(self, event: type[E]) -> Callable[[F], Any]:
        """Register the decorated function for ``event``: it is called with the event model as its
        first argument (FastStream's other arguments, ``KafkaMessage`` and ``Context``, work too).
        Gives FastStream's handler wrapper (``.mock`` under ``TestKafkaBroker``)."""
        topic = self.topic_of(event)
        if topic not in self._by_topic:
            handled: set[str] = set()
            subscriber = self.subscriber(topic, group_id=self.group_id, **self.subscriber_options)
            # First in order but matching only types nobody handles: they are passed over quietly.
            subscriber(
                filter=lambda m, handled=handled: m.headers.get("ce_type") not in handled,
                decoder=_undecoded,
            )(_passed_over)
            self._by_topic[topic], self._types_handled[topic] = subscriber, handled
        event_type = event.event_type()
        if event_type in self._types_handled[topic]:
            raise ValueError(f"{event.__name__} has a handler on this router already")
        self._types_handled[topic].add(event_type)

        def register(func: F) -> Any:
            return self._by_topic[topic](
                filter=lambda m, t=event_type: m.headers.get("ce_type") == t,
                decoder=decode_event,
            )(func)

        return register
