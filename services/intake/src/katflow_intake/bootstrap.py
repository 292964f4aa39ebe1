"""intake's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from katflow_shared.contracts import Event
from katflow_shared.runtime import ServiceSpec, create_app
from katflow_shared.treatment_protocols import load_protocols

from .entrypoints import admin, courses
from .entrypoints.http import router
from .settings import IntakeSettings

# What intake consumes: nothing (its ServiceSpec has no handlers). The contract docs read it.
CONSUMES: tuple[type[Event], ...] = ()


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    protocols = load_protocols(settings.protocols_dir)  # a bad file stops the service here
    app = create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_intake"],
            routers=[router, courses.router, admin.router],
            title="katflow intake",
            description="Consultation requests, patients and consent, screening, preparation, protocols.",
        )
    )
    app.state.settings = settings
    app.state.protocols = protocols
    return app
