"""Logical topic names (a deployment may prefix them with KATFLOW_TOPIC_PREFIX)."""

from __future__ import annotations

from dataclasses import dataclass

INTAKE = "katflow.intake.v1"
SCHEDULING = "katflow.scheduling.v1"
NOTIFICATIONS = "katflow.notifications.v1"
PATIENT_CONTACT = "katflow.patient-contact.v1"  # restricted: carries PHI (contact details)


def dead_letter_topic(service: str) -> str:
    return f"katflow.{service}.dlq.v1"


def source(service: str) -> str:
    """The CloudEvents ``source`` of what ``service`` publishes."""
    return f"/katflow/{service}"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    producer: str  # the one service that publishes on it: consumers take its events from no one else
    partitions: int
    retention_ms: int
    restricted: bool = False


DAY_MS = 24 * 3600 * 1000
WORKFLOW_TOPICS = (
    TopicSpec(INTAKE, "intake", 6, 30 * DAY_MS),
    TopicSpec(SCHEDULING, "scheduling", 6, 30 * DAY_MS),
    TopicSpec(NOTIFICATIONS, "notifications", 6, 30 * DAY_MS),
    TopicSpec(PATIENT_CONTACT, "intake", 6, 7 * DAY_MS, restricted=True),
)
# Restricted too: a dead letter is the raw record, and it may come from the patient-contact topic.
DEAD_LETTER_TOPICS = tuple(
    TopicSpec(dead_letter_topic(s), s, 3, 90 * DAY_MS, restricted=True)
    for s in ("intake", "scheduling", "notifications", "console")  # the console's read model consumes too
)
ALL_TOPICS = WORKFLOW_TOPICS + DEAD_LETTER_TOPICS
PRODUCERS = {spec.name: spec.producer for spec in WORKFLOW_TOPICS}
# Carry PHI: operators restrict them with Kafka ACLs (docs/security.md); nothing else may.
RESTRICTED_TOPICS = frozenset(spec.name for spec in ALL_TOPICS if spec.restricted)


def producer_source(topic: str) -> str:
    """The one CloudEvents source accepted for an event of ``topic``: its producer's."""
    return source(PRODUCERS[topic])
