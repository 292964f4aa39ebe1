"""Kafka in: each event type notifications consumes -> its use case (``service_layer.workflow_events``).
Translate only: those that read first run in a transaction, the others are planned writes."""

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
from katflow_shared.messaging.consumer import AnyHandler
from katflow_shared.messaging.emitter import Planned

from ..service_layer.workflow_events import WorkflowEvents

PATIENT_REQUESTS = (AppointmentChangeRequested, ReadinessConfirmed)  # ours, from the patient's page
OWN = (NotificationSent, NotificationFailed, *PATIENT_REQUESTS)
# What notifications consumes: every event type of the course except its own. ``handlers`` (the
# ServiceSpec's handler map) has a handler for each; the contract docs (katflow docs) read it.
CONSUMES = tuple(cls for cls in EVENT_TYPES if cls not in OWN)


def handlers(events: WorkflowEvents) -> Mapping[type[Event], AnyHandler]:
    """A handler for every event type of the course except our own: those that read first run
    in a transaction, the others are planned writes."""
    special: dict[type[Event], AnyHandler] = {
        PatientContactUpdated: Planned(events.plan_contact),
        AppointmentScheduled: Planned(events.plan_scheduled),
        PreparationCompleted: Planned(events.plan_preparation),
        AppointmentRescheduled: events.on_rescheduled,
        AppointmentCancelled: events.on_appointment_closed,
        AppointmentCompleted: events.on_appointment_closed,
        AppointmentMissed: events.on_appointment_closed,
        UrgentReviewRequired: events.on_urgent_review,
        CourseCompleted: events.on_course_completed,
        ClinicianUpdated: Planned(events.plan_clinician),
    }
    plain = Planned(events.plan_event)
    return {cls: special.get(cls, _plain(events, cls, plain)) for cls in CONSUMES}


def _plain(events: WorkflowEvents, cls: type[Event], plain: AnyHandler) -> AnyHandler:
    """Events naming a booked clinician (session alerts) read first: the clinician is looked up in
    the staff directory (``WorkflowEvents.on_event``)."""
    return events.on_event if "clinician_id" in cls.model_fields else plain
