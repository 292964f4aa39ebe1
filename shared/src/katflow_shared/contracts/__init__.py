"""Event contracts: one frozen pydantic model per event type."""

from __future__ import annotations

from .base import Event
from .intake import ConsultationRequested, PreparationCompleted
from .patient_contact import ChannelConsent, PatientContactUpdated
from .scheduling import AppointmentScheduled, IntegrationDue, SessionAdministered

EVENT_TYPES: tuple[type[Event], ...] = (
    ConsultationRequested,
    PreparationCompleted,
    AppointmentScheduled,
    SessionAdministered,
    IntegrationDue,
    PatientContactUpdated,
)
REGISTRY: dict[str, type[Event]] = {cls.event_type(): cls for cls in EVENT_TYPES}

__all__ = [
    "EVENT_TYPES",
    "REGISTRY",
    "AppointmentScheduled",
    "ChannelConsent",
    "ConsultationRequested",
    "Event",
    "IntegrationDue",
    "PatientContactUpdated",
    "PreparationCompleted",
    "SessionAdministered",
]
