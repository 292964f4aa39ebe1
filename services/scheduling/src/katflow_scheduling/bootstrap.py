"""scheduling's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from katflow_shared.clock import Clock, clock_for
from katflow_shared.runtime import ServiceSpec, create_app
from katflow_shared.timers import TimerWorker
from katflow_shared.treatment_protocols import load_protocols

from .domain.clinic import load_clinic
from .entrypoints import consumer, http_admin, http_appointments, http_staff, timers
from .entrypoints.consumer import CONSUMES
from .service_layer.clinics import ClinicListener, Clinics
from .service_layer.deps import Deps
from .settings import SchedulingSettings

__all__ = ["CONSUMES", "build_app"]  # CONSUMES: what the contract docs (katflow docs) read here


def build_app(settings: SchedulingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or SchedulingSettings()
    clock = clock or clock_for(settings.environment, settings.clock_offset_file)
    # configuration is validated here: a bad clinic seed or protocol file stops the service with its
    # reason; the seed becomes the clinic only where the database has none (Clinics.start)
    seed = Clinics(load_clinic(settings.clinic_config))
    deps = Deps(seed, load_protocols(settings.protocols_dir), clock)
    app = create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_scheduling"],
            routers=[http_appointments.router, http_staff.router, http_admin.router],
            handlers=consumer.handlers(deps),
            startup=[lambda runtime: deps.clinics.start(runtime.pool)],
            workers=[
                lambda runtime: TimerWorker(runtime, timers.handlers(deps), announcer=deps.timing),
                lambda runtime: ClinicListener(runtime, deps.clinics),
            ],
            clock=clock,
            title="katflow scheduling",
            description="Clinicians, rooms, availability, appointments, session records, durable timers.",
        )
    )
    app.state.deps = deps
    return app
