"""Shared fixtures: real infrastructure found once per session; a fresh stack per e2e test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from katflow_shared import tracing
from tests.support.infra import REPO, Infra, find_infra
from tests.support.stack import Stack, destroy_created, make_stack

RUN_ROOT = Path(os.environ.get("KATFLOW_TEST_RUN_DIR", REPO / ".run" / "tests"))


@pytest.fixture(scope="session")
async def infra() -> AsyncIterator[Infra]:
    found, containers = find_infra()
    yield found
    await destroy_created()  # the session's topics and databases: the broker does not fill up
    for container in containers:
        container.stop()  # type: ignore[attr-defined]


@pytest.fixture
async def stack(infra: Infra) -> AsyncIterator[Stack]:
    """Topics, databases and an SMTP sink for one test; the test starts the services it needs."""
    s = await make_stack(infra, RUN_ROOT)
    yield s
    s.stop()


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans recorded in memory by a provider of the test's own (the global one is left alone)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "tracer", provider.get_tracer("katflow"))
    yield exporter
    provider.shutdown()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder: unit, integration, e2e, fault, containers."""
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in ("unit", "integration", "e2e", "fault", "containers"):
            item.add_marker(getattr(pytest.mark, tier))
