"""Which katflow service reads which workflow topic, under which consumer group."""

from __future__ import annotations

from dataclasses import dataclass

from katflow_shared.contracts.topics import INTAKE, NOTIFICATIONS, PATIENT_CONTACT, SCHEDULING


@dataclass(frozen=True)
class TopicRole:
    """Which katflow services read a workflow topic (its producer is its TopicSpec's)."""

    consumers: tuple[str, ...]
    about: str


TOPOLOGY: dict[str, TopicRole] = {
    INTAKE: TopicRole(
        ("scheduling", "notifications", "console"),
        "The course's intake milestones: request, eligibility, urgent review, preparation.",
    ),
    SCHEDULING: TopicRole(
        ("notifications", "console"),
        "Appointments, dosing sessions, monitoring and integration timers, course completion.",
    ),
    NOTIFICATIONS: TopicRole(
        ("console",),
        "Outcomes of patient and staff messages (ids and codes only, never content).",
    ),
    PATIENT_CONTACT: TopicRole(
        ("notifications", "console"),
        "Restricted (PHI): a patient's current contact details and channel consent.",
    ),
}


def consumer_group(service: str) -> str:
    """The consumer group a katflow service reads the workflow topics with."""
    return f"katflow-{service}-workflow"
