"""Operators' view: Prometheus metrics on every service, OpenTelemetry traces when switched on."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.conftest import RUN_ROOT
from tests.support.infra import Infra
from tests.support.stack import Stack, make_stack, post_requests, wait_for


class _Collector(BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP collector: keeps every body POSTed to /v1/traces."""

    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/v1/traces":
            _Collector.received.append(body)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
async def traced(infra: Infra) -> AsyncIterator[Stack]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    stack = await make_stack(
        infra, RUN_ROOT, OTEL_EXPORTER_OTLP_ENDPOINT=endpoint, OTEL_BSP_SCHEDULE_DELAY="200"
    )
    yield stack
    stack.stop()
    server.shutdown()


async def test_metrics_and_traces(traced: Stack) -> None:
    stack = traced
    stack.start()
    accepted = await post_requests(stack, 5)

    async def all_mail() -> bool:
        return len(stack.sink.messages()) >= 15

    assert await wait_for(all_mail, within=60)
    async with httpx.AsyncClient() as http:
        pages = {name: (await http.get(f"{stack.url(name)}/metrics")).text for name in stack.services}
    for name, page in pages.items():
        assert "katflow_outbox_backlog" in page, name
        assert "katflow_outbox_oldest_age_seconds" in page, name
        assert 'katflow_http_requests_total{method="GET",route="/readyz",status="200"}' in page, name
    assert 'route="/v1/consultation-requests",status="202"} 5.0' in pages["intake"]
    for name in ("scheduling", "notifications"):
        assert "katflow_handler_seconds_count" in pages[name]
        assert "katflow_consumer_lag{" in pages[name]
    assert 'katflow_deliveries{channel="email",status="sent"}' in pages["notifications"]
    assert "# TYPE katflow_timer_lateness_seconds histogram" in pages["scheduling"]
    assert all(a["course_id"] not in page for a in accepted for page in pages.values())  # no ids as labels

    async def traces() -> bool:
        bodies = b"".join(_Collector.received)
        return b"katflow-intake" in bodies and b"katflow-scheduling" in bodies and b"handle " in bodies

    assert await wait_for(traces, within=30)
