"""notifications' composition root."""

from __future__ import annotations

from fastapi import FastAPI

from katflow_shared.contracts import (
    AppointmentScheduled,
    ConsultationRequested,
    PatientContactUpdated,
)
from katflow_shared.runtime import ServiceSpec, create_app

from .dispatcher import Dispatcher
from .domain.staff import load_staff
from .entrypoints.http import router
from .handlers.events import EventHandlers
from .settings import NotificationsSettings


def build_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    staff = load_staff(settings.staff_directory)
    handlers = EventHandlers(staff)
    return create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_notifications"],
            routers=[router],
            handlers={
                PatientContactUpdated: handlers.on_contact_updated,
                ConsultationRequested: handlers.on_consultation_requested,
                AppointmentScheduled: handlers.on_appointment_scheduled,
            },
            workers=[lambda runtime: Dispatcher(runtime, settings, staff)],
            title="katflow notifications",
            description="Messages to staff and patients: channels, consent, delivery tracking.",
        )
    )
