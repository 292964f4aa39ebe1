"""A stand-in OTLP/HTTP collector for e2e tests of tracing: it keeps every body the services export
to /v1/traces and decodes each into spans; and a stack that exports its traces to it."""

from __future__ import annotations

import contextlib
import gzip
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.conftest import RUN_ROOT
from tests.support.infra import Infra
from tests.support.stack import Stack, make_stack


@dataclass(frozen=True)
class Collected:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str


class Collector(ThreadingHTTPServer):
    """A tiny OTLP/HTTP receiver: keeps every export POSTed to /v1/traces, raw and as spans."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.spans: list[Collected] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Receive)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        found = []
        for resource in request.resource_spans:
            attrs = {a.key: a.value.string_value for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                found += [
                    Collected(
                        attrs.get("service.name", ""),
                        span.name,
                        span.kind,
                        span.trace_id.hex(),
                        span.span_id.hex(),
                        span.parent_span_id.hex(),
                    )
                    for span in scope.spans
                ]
        with self.lock:
            self.bodies.append(body)
            self.spans += found

    def received(self) -> bytes:
        """Every body exported so far, one after the other."""
        with self.lock:
            return b"".join(self.bodies)

    def collected(self) -> list[Collected]:
        with self.lock:
            return list(self.spans)


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/v1/traces":
            self.server.add(body)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@contextlib.asynccontextmanager
async def traced_stack(infra: Infra) -> AsyncIterator[tuple[Stack, Collector]]:
    """A test's stack whose services export their traces (every 200 ms) to a collector of its own."""
    collector = Collector()
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        stack = await make_stack(
            infra, RUN_ROOT, OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, OTEL_BSP_SCHEDULE_DELAY="200"
        )
        try:
            yield stack, collector
        finally:
            stack.stop()
    finally:
        collector.shutdown()
