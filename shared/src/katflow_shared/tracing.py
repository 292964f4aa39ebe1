"""OpenTelemetry tracing, switched on by the standard environment: set
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and spans for every HTTP
request, consumed event and fired timer are exported over OTLP/HTTP. Unset, tracing costs nothing.

Trace context crosses Kafka as W3C Trace Context: every event carries ``traceparent`` (and
``tracestate`` when there is one) in its record headers, written by OpenTelemetry's propagator
(``OTEL_PROPAGATORS``, W3C by default) from the context the event was emitted in, and read back by
the consumer, whose span is its child. So one consultation request is one trace across the
services. A service with tracing off still passes the context it received on to what it emits."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

tracer = trace.get_tracer("katflow")

# The W3C Trace Context fields an event carries; baggage is not carried (it could hold anything).
TRACE_HEADERS = ("traceparent", "tracestate")
MAX_TRACE_HEADER = 512  # W3C: tracestate is at most 32 members; longer values are not context
TraceContext = tuple[tuple[str, str], ...]


def enabled() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def configure_tracing(app: FastAPI, service: str) -> None:
    if not enabled():
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"katflow-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")


def shutdown_tracing() -> None:
    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if callable(shutdown):
        shutdown()


def current_context() -> TraceContext:
    """The W3C trace context to send with an event emitted now (empty outside any trace)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple((k, carrier[k]) for k in TRACE_HEADERS if k in carrier)


def received_context(headers: Mapping[str, str]) -> TraceContext:
    """The trace context fields of a received event's headers, as far as they are plausible (the
    propagator checks them further: an invalid ``traceparent`` starts a new trace)."""
    return tuple(
        (k, headers[k]) for k in TRACE_HEADERS if k in headers and 0 < len(headers[k]) <= MAX_TRACE_HEADER
    )


@contextmanager
def span(name: str, parent: TraceContext | None = None, **attributes: str) -> Iterator[None]:
    """A span around a unit of work (ids only as attributes, never PHI). With ``parent`` (the trace
    context an event came with), a consumer span in that event's trace."""
    if parent is None:
        with tracer.start_as_current_span(name, attributes=attributes):
            yield
        return
    context = propagate.extract(dict(parent))
    with tracer.start_as_current_span(name, context=context, kind=SpanKind.CONSUMER, attributes=attributes):
        yield
