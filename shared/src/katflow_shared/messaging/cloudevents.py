"""CloudEvents 1.0 Kafka binding, binary content mode: ``ce_*`` headers and a JSON body.

Decoding is a tolerant reader: fields an event's model does not declare are dropped before it is
validated, so a producer that adds a field (a compatible change, docs/events.md) does not send an
older consumer's records to its dead-letter topic during a rolling deploy. Everything else the
model requires (fields present, types, ranges) is still checked, and a record that fails is
dead-lettered. Events are built strictly (``extra="forbid"``): a producer cannot add a field by
mistake.
"""

from __future__ import annotations

import functools
import json
import re
import types
import typing
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError

from ..contracts import REGISTRY, Event
from ..tracing import TraceContext, received_context
from .errors import InvalidMessage

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
MAX_BODY_BYTES = 256 * 1024
TRACE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # as HTTP X-Request-ID (runtime.REQUEST_ID)
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Envelope:
    """An event plus the CloudEvents attributes that travel with it."""

    event: Event
    source: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str | None = None
    causation_id: str | None = None
    # W3C trace context (``traceparent``, ``tracestate``): plain record headers, as OpenTelemetry's
    # propagator writes them (tracing.current_context), not ce_* attributes.
    trace_context: TraceContext = ()

    @property
    def type(self) -> str:
        return self.event.event_type()

    @property
    def subject(self) -> str:
        return self.event.key()

    def headers(self) -> Headers:
        attrs = {
            "ce_specversion": SPECVERSION,
            "ce_id": self.id,
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_time": self.time.isoformat().replace("+00:00", "Z"),
            "ce_subject": self.subject,
            "ce_dataschema": f"https://katflow.io/schemas/{self.event.name}/v{self.event.version}.json",
            "content-type": CONTENT_TYPE,
        }
        if self.correlation_id:
            attrs["ce_correlationid"] = self.correlation_id
        if self.causation_id:
            attrs["ce_causationid"] = self.causation_id
        attrs.update(self.trace_context)
        return [(k, v.encode()) for k, v in attrs.items()]

    def body(self) -> bytes:
        return self.event.model_dump_json().encode()


def header_map(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    try:
        return {k: v.decode() for k, v in (headers or [])}
    except UnicodeDecodeError as exc:
        raise InvalidMessage("a header is not UTF-8") from exc


def known_fields(model: type[BaseModel], data: object) -> object:
    """``data`` without the keys ``model`` does not declare, also inside fields that are themselves
    models (or optional ones); anything that is not a JSON object is left for validation to refuse."""
    if not isinstance(data, dict):
        return data
    known: dict[str, object] = {}
    for key, nested in _field_plan(model):
        if key in data:
            known[key] = known_fields(nested, data[key]) if nested else data[key]
    return known


@functools.cache
def _field_plan(model: type[BaseModel]) -> tuple[tuple[str, type[BaseModel] | None], ...]:
    """Each field's key in the JSON and the model it nests, worked out once per model."""
    return tuple(
        (info.alias or name, nested_model(info.annotation)) for name, info in model.model_fields.items()
    )


def nested_model(annotation: object) -> type[BaseModel] | None:
    """The model a field holds directly or as an optional, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [m for a in typing.get_args(annotation) if (m := nested_model(a)) is not None]
        return models[0] if len(models) == 1 else None
    return None


def decode(headers: Sequence[tuple[str, bytes]] | None, body: bytes | None) -> Envelope:
    """Parse a Kafka record into an Envelope, or raise InvalidMessage saying what is wrong."""
    attrs = header_map(headers)
    for required in ("ce_specversion", "ce_id", "ce_source", "ce_type"):
        if required not in attrs:
            raise InvalidMessage(f"missing CloudEvents header {required}")
    if attrs["ce_specversion"] != SPECVERSION:
        raise InvalidMessage(f"unsupported specversion {attrs['ce_specversion']}"[:200])
    event_cls = REGISTRY.get(attrs["ce_type"])
    if event_cls is None:
        raise InvalidMessage(f"unknown event type {attrs['ce_type']}")
    if body is None or len(body) > MAX_BODY_BYTES:
        raise InvalidMessage("body missing or larger than the limit")
    try:
        event = event_cls.model_validate(known_fields(event_cls, json.loads(body)))
    except ValidationError as exc:  # field names and error types only: values may be PHI
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors())
        raise InvalidMessage(f"{event_cls.name} body invalid: {problems}"[:1000]) from exc
    except (ValueError, RecursionError) as exc:  # not JSON, or nested past the parser's depth
        raise InvalidMessage(f"{event_cls.name} body invalid: {type(exc).__name__}") from exc
    try:
        uuid.UUID(attrs["ce_id"])
    except ValueError as exc:
        raise InvalidMessage("ce_id is not a UUID") from exc
    for name in ("ce_correlationid", "ce_causationid"):
        if name in attrs and not TRACE_ID.fullmatch(attrs[name]):
            raise InvalidMessage(f"{name} is not a short token of letters, digits and ._:-")
    time = attrs.get("ce_time")
    try:
        when = datetime.fromisoformat(time.replace("Z", "+00:00")) if time else datetime.now(UTC)
    except ValueError as exc:
        raise InvalidMessage("ce_time is not an RFC 3339 timestamp") from exc
    return Envelope(
        event=event,
        source=attrs["ce_source"],
        id=attrs["ce_id"],
        time=when,
        correlation_id=attrs.get("ce_correlationid"),
        causation_id=attrs.get("ce_causationid"),
        trace_context=received_context(attrs),
    )
