"""Who publishes and who consumes each event type, read from the code rather than written down here.

* Publisher: the topic's producer (``TopicSpec.producer``). Consumers accept an event only from its
  topic's producer (``producer_source``), and a test scans each service's code for the contract
  classes it constructs (tests/unit/test_contract_topology.py), so this is what the services emit.
* Consumers: each service's ``CONSUMES``, declared beside the handler map its bootstrap gives
  ``ServiceSpec.handlers`` (the map is built from it; the same test compares it with the built map).
  A service's consumer group subscribes to the topics of those event types and skips the other types
  it finds there (``EventConsumer``).
"""

from __future__ import annotations

from functools import cache

from katflow_shared.contracts import EVENT_TYPES, Event
from katflow_shared.contracts.topics import INTAKE, NOTIFICATIONS, PATIENT_CONTACT, PRODUCERS, SCHEDULING

ABOUT: dict[str, str] = {
    INTAKE: "The course's intake milestones: request, eligibility, urgent review, preparation.",
    SCHEDULING: "Appointments, dosing sessions, monitoring and integration timers, course completion.",
    NOTIFICATIONS: "Outcomes of patient and staff messages (ids and codes only, never content).",
    PATIENT_CONTACT: "Restricted (PHI): a patient's current contact details and channel consent.",
}


@cache
def consumed() -> dict[str, tuple[type[Event], ...]]:
    """Per katflow service, the event types its consumer handles (the keys of its handler map)."""
    from katflow_console.entrypoints.consumer import CONSUMES as console
    from katflow_intake.bootstrap import CONSUMES as intake
    from katflow_notifications.entrypoints.consumer import CONSUMES as notifications
    from katflow_scheduling.bootstrap import CONSUMES as scheduling

    return {"intake": intake, "scheduling": scheduling, "notifications": notifications, "console": console}


def consumer_group(service: str) -> str:
    """The consumer group a katflow service reads the workflow topics with (``EventConsumer``'s)."""
    return f"katflow-{service}-workflow"


def publisher(cls: type[Event]) -> str:
    return PRODUCERS[cls.topic]


def published_by(service: str) -> list[type[Event]]:
    """The event types ``service`` emits: those of the topics it is the producer of."""
    return [cls for cls in EVENT_TYPES if publisher(cls) == service]


def consumers(topic: str) -> list[tuple[str, list[type[Event]]]]:
    """The services that read ``topic``, each with the event types on it that it handles (in
    ``EVENT_TYPES`` order); a service that handles none of them does not read the topic."""
    readers = []
    for service, types in consumed().items():
        handled = [cls for cls in EVENT_TYPES if cls.topic == topic and cls in types]
        if handled:
            readers.append((service, handled))
    return readers


def consumers_of(cls: type[Event]) -> list[str]:
    return [service for service, types in consumed().items() if cls in types]
