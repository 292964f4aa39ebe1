"""Which records a consumer decodes: another service's known events on a shared topic are passed
over unread; anything it cannot name (no or unknown ce_type) is decoded, so it is dead-lettered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from katflow_shared.contracts import AppointmentScheduled, ConsultationRequested
from katflow_shared.messaging.consumer import EventConsumer
from katflow_shared.settings import ServiceSettings


@dataclass
class FakeRecord:
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "t"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    value: bytes | None = b"{}"


async def _handler(event: Any, ctx: Any) -> None:
    raise AssertionError("not called here")


async def test_known_events_without_a_handler_are_passed_over_unread() -> None:  # a loop for aiokafka
    consumer = EventConsumer(ServiceSettings(), None, None, {ConsultationRequested: _handler})  # type: ignore[arg-type]
    ours = FakeRecord([("ce_type", ConsultationRequested.event_type().encode())])
    theirs = FakeRecord([("ce_type", AppointmentScheduled.event_type().encode())])
    unknown = FakeRecord([("ce_type", b"io.example.Whatever.v1")])
    nameless = FakeRecord([("ce_id", b"x")])
    assert not consumer._not_ours(ours)
    assert consumer._not_ours(theirs)
    assert not consumer._not_ours(unknown) and not consumer._not_ours(nameless)  # decoded: dead letters
