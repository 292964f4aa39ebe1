"""Event contracts: one frozen pydantic model per event type."""

from __future__ import annotations

from .base import Event
from .intake import ConsultationRequested, EligibilityDecided, PreparationCompleted, UrgentReviewRequired
from .notifications import NotificationFailed, NotificationSent
from .patient_contact import ChannelConsent, PatientContactUpdated
from .scheduling import (
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentMissed,
    AppointmentRescheduled,
    AppointmentScheduled,
    AppointmentWaitlisted,
    CadenceStretched,
    CourseCompleted,
    IntegrationDue,
    IntegrationOverdue,
    MonitoringCheckDue,
    SessionAdministered,
)

EVENT_TYPES: tuple[type[Event], ...] = (
    ConsultationRequested,
    EligibilityDecided,
    UrgentReviewRequired,
    PreparationCompleted,
    AppointmentScheduled,
    AppointmentWaitlisted,
    AppointmentRescheduled,
    AppointmentCancelled,
    AppointmentCompleted,
    AppointmentMissed,
    CadenceStretched,
    SessionAdministered,
    MonitoringCheckDue,
    IntegrationDue,
    IntegrationOverdue,
    CourseCompleted,
    NotificationSent,
    NotificationFailed,
    PatientContactUpdated,
)
REGISTRY: dict[str, type[Event]] = {cls.event_type(): cls for cls in EVENT_TYPES}


__all__ = [
    "EVENT_TYPES",
    "REGISTRY",
    "AppointmentCancelled",
    "AppointmentCompleted",
    "AppointmentMissed",
    "AppointmentRescheduled",
    "AppointmentScheduled",
    "AppointmentWaitlisted",
    "CadenceStretched",
    "ChannelConsent",
    "ConsultationRequested",
    "CourseCompleted",
    "EligibilityDecided",
    "Event",
    "IntegrationDue",
    "IntegrationOverdue",
    "MonitoringCheckDue",
    "NotificationFailed",
    "NotificationSent",
    "PatientContactUpdated",
    "PreparationCompleted",
    "SessionAdministered",
    "UrgentReviewRequired",
]
