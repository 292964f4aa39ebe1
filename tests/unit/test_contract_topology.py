"""Who publishes and who consumes each event type: the docs say what the services' code does.

The contract docs read each service's ``CONSUMES`` (katflow_tools.docs_gen.topology); these tests tie
``CONSUMES`` to the handler map the service's bootstrap really gives its ``ServiceSpec``, the
published types to the contract classes each service's code constructs, and the committed
docs/asyncapi.json and docs/events.md to both.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from katflow_shared.contracts import EVENT_TYPES, AppointmentCompleted, Event, SessionAdministered
from katflow_shared.contracts.topics import PRODUCERS, SCHEDULING, WORKFLOW_TOPICS
from katflow_shared.runtime import ServiceSpec
from katflow_tools import docs_gen
from katflow_tools.docs_gen import common, topology
from tests.support.infra import REPO

SERVICES = tuple(topology.consumed())
Json = dict[str, Any]


@pytest.fixture(scope="module")
def asyncapi() -> Json:
    doc: Json = json.loads((REPO / common.ASYNCAPI_FILE).read_text())
    return doc


@pytest.mark.parametrize("service", SERVICES)
def test_consumes_is_the_handler_map_the_service_runs_with(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Builds the service's app as it starts (no I/O: that is the lifespan's) and reads its spec."""
    bootstrap = importlib.import_module(f"katflow_{service}.bootstrap")
    specs: list[ServiceSpec] = []

    def capture(spec: ServiceSpec) -> FastAPI:
        specs.append(spec)
        return FastAPI()

    monkeypatch.setattr(bootstrap, "create_app", capture)
    bootstrap.build_app()
    assert len(specs) == 1
    assert set(specs[0].handlers) == set(topology.consumed()[service])
    assert len(topology.consumed()[service]) == len(set(topology.consumed()[service]))


def _constructed(service: str) -> set[str]:
    """Names of contract classes called anywhere in the service's package (how events are made)."""
    names = {cls.name for cls in EVENT_TYPES}
    package = REPO / "services" / service / "src" / f"katflow_{service}"
    found: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name in names:
                    found.add(name)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_emits_exactly_the_event_types_of_the_topics_it_produces(service: str) -> None:
    """The docs name a topic's producer as the publisher of every event type on it: each of those
    types is constructed in that service's code, and the service constructs no other."""
    assert _constructed(service) == {cls.name for cls in topology.published_by(service)}


def test_every_event_type_has_a_producing_service() -> None:
    assert {PRODUCERS[cls.topic] for cls in EVENT_TYPES} <= set(SERVICES)


def _receive_operations(asyncapi: Json) -> dict[str, Json]:
    ops: dict[str, Json] = asyncapi["operations"]
    return {key: op for key, op in ops.items() if op["action"] == "receive"}


def test_asyncapi_has_a_receive_operation_per_consuming_service_and_topic(asyncapi: Json) -> None:
    expected: dict[str, list[type[Event]]] = {}
    for service, types in topology.consumed().items():
        for cls in types:
            expected.setdefault(f"{cls.topic}:{service}", []).append(cls)
    receive = _receive_operations(asyncapi)
    assert set(receive) == set(expected)
    for key, types in expected.items():
        service = key.rsplit(":", 1)[1]
        assert receive[key]["bindings"]["kafka"]["groupId"]["enum"] == [topology.consumer_group(service)]
        channel = asyncapi["channels"][key]
        ref = next(iter(channel["messages"].values()))["$ref"].rsplit("/", 1)[-1]
        ce_types = asyncapi["components"]["messages"][ref]["headers"]["properties"]["ce_type"]["enum"]
        assert set(ce_types) == {cls.event_type() for cls in types}


def test_scheduling_consumes_its_own_topic(asyncapi: Json) -> None:
    """Issue 26: the hand-written topology had no such operation."""
    op = _receive_operations(asyncapi)[f"{SCHEDULING}:scheduling"]
    assert op["bindings"]["kafka"]["groupId"]["enum"] == ["katflow-scheduling-workflow"]
    assert {SessionAdministered, AppointmentCompleted} <= set(topology.consumed()["scheduling"])
    events_md = (REPO / common.EVENTS_FILE).read_text()
    assert "Published by scheduling; consumed by scheduling, notifications, console." in events_md


def test_events_md_names_each_topics_consumers_and_each_events_readers() -> None:
    events_md = (REPO / common.EVENTS_FILE).read_text()
    for spec in WORKFLOW_TOPICS:
        section = events_md.split(f"\n## {spec.name}\n", 1)[1].split("\n## ", 1)[0]
        for service, _ in topology.consumers(spec.name):
            assert f"  - {service} (group `{topology.consumer_group(service)}`): " in section
    for cls in EVENT_TYPES:
        readers = ", ".join(topology.consumers_of(cls)) or "no katflow service"
        assert f"Published by {topology.publisher(cls)}; consumed by {readers}." in events_md


def test_check_finds_docs_that_disagree_with_the_handler_maps(monkeypatch: pytest.MonkeyPatch) -> None:
    """`katflow docs --check` fails when a service's handler map changes and the docs were not
    regenerated (here: scheduling stops consuming its own topic)."""
    actual = topology.consumed()
    changed = {**actual, "scheduling": tuple(c for c in actual["scheduling"] if c.topic != SCHEDULING)}
    monkeypatch.setattr(topology, "consumed", lambda: changed)
    problems = docs_gen.check(REPO)
    assert f"drift: {common.ASYNCAPI_FILE}: out of date" in problems
    assert f"drift: {common.EVENTS_FILE}: out of date" in problems


def test_the_docs_of_the_repository_pass_the_check() -> None:
    assert docs_gen.check(Path(REPO)) == []
