"""scheduling's composition root."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from fastapi import FastAPI

from katflow_shared.clock import Clock, clock_for
from katflow_shared.contracts import (
    AppointmentCompleted,
    ConsultationRequested,
    EligibilityDecided,
    Event,
    PreparationCompleted,
    SessionAdministered,
    UrgentReviewRequired,
)
from katflow_shared.messaging.consumer import AnyHandler
from katflow_shared.runtime import ServiceSpec, create_app
from katflow_shared.timers import TimerWorker
from katflow_shared.treatment_protocols import load_protocols

from .domain.clinic import load_clinic
from .entrypoints import http_admin, staff
from .entrypoints.http import router
from .handlers.course_events import CourseEvents
from .handlers.timers import TimerHandlers
from .service_layer.clinics import ClinicListener, Clinics
from .service_layer.deps import Deps
from .settings import SchedulingSettings

# The event types scheduling consumes, each with the CourseEvents handler that takes it: its
# ServiceSpec's handler map is built from this table, the contract docs (katflow docs) from CONSUMES.
HANDLERS: Mapping[type[Event], Callable[[CourseEvents], AnyHandler]] = {
    ConsultationRequested: lambda course: course.on_consultation_requested,
    PreparationCompleted: lambda course: course.on_preparation_completed,
    SessionAdministered: lambda course: course.on_session_administered,
    AppointmentCompleted: lambda course: course.on_appointment_completed,
    UrgentReviewRequired: lambda course: course.on_urgent_review,
    EligibilityDecided: lambda course: course.on_eligibility_decided,
}
CONSUMES = tuple(HANDLERS)


def build_app(settings: SchedulingSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or SchedulingSettings()
    clock = clock or clock_for(settings.environment, settings.clock_offset_file)
    # configuration is validated here: a bad clinic seed or protocol file stops the service with its
    # reason; the seed becomes the clinic only where the database has none (Clinics.start)
    seed = Clinics(load_clinic(settings.clinic_config))
    deps = Deps(seed, load_protocols(settings.protocols_dir), clock)
    course, timers = CourseEvents(deps), TimerHandlers(deps)
    app = create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_scheduling"],
            routers=[router, staff.router, http_admin.router],
            handlers={cls: handler(course) for cls, handler in HANDLERS.items()},
            startup=[lambda runtime: deps.clinics.start(runtime.pool)],
            workers=[
                lambda runtime: TimerWorker(runtime, timers.table(), announcer=deps.timing),
                lambda runtime: ClinicListener(runtime, deps.clinics),
            ],
            clock=clock,
            title="katflow scheduling",
            description="Clinicians, rooms, availability, appointments, session records, durable timers.",
        )
    )
    app.state.deps = deps
    return app
