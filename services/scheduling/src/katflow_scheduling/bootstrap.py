"""scheduling's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from katflow_shared.clock import Clock, SystemClock
from katflow_shared.contracts import ConsultationRequested
from katflow_shared.runtime import ServiceSpec, create_app

from .adapters.postgres_appointments import sync_clinic
from .domain.clinic import load_clinic
from .entrypoints.http import router
from .handlers.booking import Booking
from .settings import SchedulingSettings


def build_app(settings: SchedulingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or SchedulingSettings()
    clock = clock or SystemClock()
    booking = Booking(load_clinic(settings.clinic_config), clock)
    return create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_scheduling"],
            routers=[router],
            handlers={ConsultationRequested: booking.on_consultation_requested},
            startup=[lambda runtime: sync_clinic(runtime.pool, booking.clinic)],
            clock=clock,
            title="katflow scheduling",
            description="Clinicians, rooms, availability, appointments, session records, timers.",
        )
    )
