"""W3C trace context crosses Kafka in every event's headers (issue 32): written by OpenTelemetry's
propagator where the event is emitted, read back by the consumer, whose span is its child."""

from __future__ import annotations

import json
import uuid

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from katflow_shared import tracing
from katflow_shared.contracts import ConsultationRequested
from katflow_shared.messaging.cloudevents import Envelope, decode
from tests.unit.test_cloudevents import _event


def _emitted_in(span_name: str) -> tuple[Envelope, trace.SpanContext]:
    with tracing.span(span_name):
        context = trace.get_current_span().get_span_context()
        envelope = Envelope(_event(), source="/katflow/intake", trace_context=tracing.current_context())
    return envelope, context


def test_an_event_carries_the_traceparent_of_the_span_it_was_emitted_in(
    exported: InMemorySpanExporter,
) -> None:
    envelope, emitted_in = _emitted_in("POST /v1/consultation-requests")
    headers = dict(envelope.headers())
    version, trace_id, span_id, flags = headers["traceparent"].decode().split("-")
    assert version == "00" and int(flags, 16) & 1  # sampled
    assert int(trace_id, 16) == emitted_in.trace_id and int(span_id, 16) == emitted_in.span_id
    assert decode(envelope.headers(), envelope.body()) == envelope  # read back as it was sent


def test_the_consumer_span_is_a_child_in_the_same_trace(exported: InMemorySpanExporter) -> None:
    envelope, emitted_in = _emitted_in("POST /v1/consultation-requests")
    received = decode(envelope.headers(), envelope.body())
    with tracing.span("handle ConsultationRequested", received.trace_context, event_id=received.id):
        # ...and what the handler emits goes on in the same trace, under the consumer's span.
        onward = dict(tracing.current_context())
    consumer = next(s for s in exported.get_finished_spans() if s.name == "handle ConsultationRequested")
    assert consumer.kind is SpanKind.CONSUMER
    assert consumer.context.trace_id == emitted_in.trace_id
    assert consumer.parent is not None and consumer.parent.span_id == emitted_in.span_id
    assert onward["traceparent"].split("-")[1:3] == [
        f"{emitted_in.trace_id:032x}",
        f"{consumer.context.span_id:016x}",
    ]


def test_a_service_with_tracing_off_passes_the_context_on() -> None:
    """No SDK provider (tracing off): the events a consumer emits carry the trace it received."""
    assert not isinstance(trace.get_tracer_provider(), TracerProvider)
    parent = (("traceparent", f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"),)
    with tracing.span("handle ConsultationRequested", parent):
        assert tracing.current_context() == parent


def test_an_event_without_trace_context_starts_a_trace(exported: InMemorySpanExporter) -> None:
    envelope = Envelope(_event(), source="/katflow/intake")
    assert not any(k in ("traceparent", "tracestate") for k, _ in envelope.headers())
    with tracing.span(
        "handle ConsultationRequested", decode(envelope.headers(), envelope.body()).trace_context
    ):
        pass
    (span,) = exported.get_finished_spans()
    assert span.parent is None and span.kind is SpanKind.CONSUMER


@pytest.mark.parametrize(
    "traceparent",
    ["junk", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "00-zz-yy-01", "x" * 10_000, ""],
)
def test_a_malformed_traceparent_is_ignored_not_fatal(
    exported: InMemorySpanExporter, traceparent: str
) -> None:
    """Headers are input: a bad traceparent neither fails the event nor joins a trace."""
    envelope = Envelope(_event(), source="/katflow/intake")
    headers = [*envelope.headers(), ("traceparent", traceparent.encode())]
    received = decode(headers, json.dumps(json.loads(envelope.body())).encode())
    assert isinstance(received.event, ConsultationRequested)
    with tracing.span("handle ConsultationRequested", received.trace_context):
        pass
    (span,) = exported.get_finished_spans()
    assert span.parent is None
