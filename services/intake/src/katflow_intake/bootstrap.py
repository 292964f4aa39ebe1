"""intake's composition root."""

from __future__ import annotations

from fastapi import FastAPI

from katflow_shared.runtime import ServiceSpec, create_app

from .entrypoints.http import router
from .settings import IntakeSettings


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    app = create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_intake"],
            routers=[router],
            title="katflow intake",
            description="Consultation requests, patients and consent, screening, preparation.",
        )
    )
    app.state.settings = settings
    return app
