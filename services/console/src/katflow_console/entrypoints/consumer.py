"""Event type -> use case: every event of the workflow topics and the contact topic is projected."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from katflow_shared.clock import Clock
from katflow_shared.contracts import EVENT_TYPES, Event
from katflow_shared.contracts.topics import INTAKE, NOTIFICATIONS, PATIENT_CONTACT, SCHEDULING
from katflow_shared.messaging.consumer import UseCase

from ..service_layer.projection import Projection

TOPICS = frozenset({INTAKE, SCHEDULING, NOTIFICATIONS, PATIENT_CONTACT})
# What the console consumes (the keys of its handler map; the contract docs, katflow docs, read it).
CONSUMES = tuple(cls for cls in EVENT_TYPES if cls.topic in TOPICS)


def handlers(clock: Clock, zone: ZoneInfo) -> dict[type[Event], UseCase]:
    project = UseCase(Projection(clock, zone))
    return {cls: project for cls in CONSUMES}
