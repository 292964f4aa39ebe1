"""katflow's CloudEvents Kafka binding read the way katflow's own consumers read it.

Binary content mode: the attributes are record headers (``ce_specversion``, ``ce_id``,
``ce_source``, ``ce_type``, ``ce_time``, ``ce_subject``, ``ce_dataschema``, katflow's
``ce_correlationid``/``ce_causationid``, and W3C ``traceparent``), the body is the event as JSON.
Decoding is a tolerant reader: fields the model does not know (a newer producer's additions) are
dropped, everything the model requires is checked; anything else raises ``InvalidMessage``.
"""

from __future__ import annotations

from collections.abc import Sequence

from katflow_shared.messaging.cloudevents import Envelope, decode
from katflow_shared.messaging.errors import InvalidMessage

CloudEvent = Envelope  # the event and its CloudEvents attributes (``.event``, ``.id``, ``.type``, ...)

__all__ = ["CloudEvent", "InvalidMessage", "decode_record"]


def decode_record(headers: Sequence[tuple[str, bytes]] | None, body: bytes | None) -> CloudEvent:
    """A Kafka record's headers and value as a typed event with its attributes."""
    return decode(headers, body)
