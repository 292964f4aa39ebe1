"""scheduling's composition root: the clinic, the protocols, the clock and the unit of work."""

from __future__ import annotations

from fastapi import FastAPI

from katflow_shared.clock import Clock, clock_for
from katflow_shared.runtime import Runtime, ServiceSpec, create_app
from katflow_shared.timers import CHANNEL, TimerWorker
from katflow_shared.treatment_protocols import load_protocols
from katflow_shared.wakeup import Announcer

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
    # The timer workers' announcer: the units schedule with it and this process's TimerWorker attaches
    # it, so a timer scheduled here wakes that worker in-process (NOTIFY while none runs here).
    timing = Announcer(CHANNEL)

    async def start(runtime: Runtime) -> None:
        await deps.clinics.start(runtime.pool)

    app = create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_scheduling"],
            routers=[http_appointments.router, http_staff.router, http_admin.router],
            handlers=consumer.handlers(deps),
            startup=[start],
            workers=[
                lambda runtime: TimerWorker(runtime, timers.handlers(deps, runtime.units), announcer=timing),
                lambda runtime: ClinicListener(runtime, deps.clinics),
            ],
            clock=clock,
            timing=timing,
            title="katflow scheduling",
            description="Clinicians, rooms, availability, appointments, session records, durable timers.",
        )
    )
    app.state.deps = deps
    return app
