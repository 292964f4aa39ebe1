"""Operators' view: Prometheus metrics on every service, OpenTelemetry traces when switched on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.infra import Infra
from tests.support.otlp import Collector, traced_stack
from tests.support.stack import Stack, post_requests, wait_for


@pytest.fixture
async def traced(infra: Infra) -> AsyncIterator[tuple[Stack, Collector]]:
    async with traced_stack(infra) as (stack, collector):
        yield stack, collector


async def test_metrics_and_traces(traced: tuple[Stack, Collector]) -> None:
    stack, collector = traced
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
        bodies = collector.received()
        return b"katflow-intake" in bodies and b"katflow-scheduling" in bodies and b"handle " in bodies

    assert await wait_for(traces, within=30)
