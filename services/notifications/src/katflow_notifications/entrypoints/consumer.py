"""Kafka in: each event type notifications consumes -> its use case (``service_layer.workflow_events``).
Translate only: those that lock or change rows as they go run in a transaction, the others (they
only write, or read what they need unlocked) as one statement with the event's inbox row."""

from __future__ import annotations

from collections.abc import Mapping

from katflow_shared.contracts import (
    EVENT_TYPES,
    AppointmentCancelled,
    AppointmentChangeRequested,
    AppointmentCompleted,
    AppointmentMissed,
    AppointmentRescheduled,
    AppointmentScheduled,
    ClinicianUpdated,
    CourseCompleted,
    Event,
    NotificationFailed,
    NotificationSent,
    PatientContactUpdated,
    PreparationCompleted,
    ReadinessConfirmed,
    UrgentReviewRequired,
)
from katflow_shared.messaging.consumer import UseCase

from ..service_layer.workflow_events import WorkflowEvents

PATIENT_REQUESTS = (AppointmentChangeRequested, ReadinessConfirmed)  # ours, from the patient's page
OWN = (NotificationSent, NotificationFailed, *PATIENT_REQUESTS)
# What notifications consumes: every event type of the course except its own. ``handlers`` (the
# ServiceSpec's handler map) has a handler for each; the contract docs (katflow docs) read it.
CONSUMES = tuple(cls for cls in EVENT_TYPES if cls not in OWN)


def handlers(events: WorkflowEvents) -> Mapping[type[Event], UseCase]:
    """A use case for every event type of the course except our own."""
    special = {
        PatientContactUpdated: UseCase(events.on_contact, one_statement=True),
        AppointmentScheduled: UseCase(events.on_scheduled, one_statement=True),
        PreparationCompleted: UseCase(events.on_preparation, one_statement=True),
        ClinicianUpdated: UseCase(events.on_clinician, one_statement=True),
        AppointmentRescheduled: UseCase(events.on_rescheduled),
        AppointmentCancelled: UseCase(events.on_appointment_closed),
        AppointmentCompleted: UseCase(events.on_appointment_closed),
        AppointmentMissed: UseCase(events.on_appointment_closed),
        UrgentReviewRequired: UseCase(events.on_urgent_review),
        CourseCompleted: UseCase(events.on_course_completed),
    }
    plain = UseCase(events.on_event, one_statement=True)  # a session's reads its clinician, unlocked
    return {cls: special.get(cls, plain) for cls in CONSUMES}
