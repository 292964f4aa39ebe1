"""intake's composition root: the protocols, the public form's rules and the unit of work."""

from __future__ import annotations

from fastapi import FastAPI

from katflow_shared.contracts import Event
from katflow_shared.runtime import ServiceSpec, create_app
from katflow_shared.treatment_protocols import load_protocols

from .domain.consultation import FormRules
from .entrypoints import http_admin, http_consultation, http_courses
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
            routers=[http_consultation.router, http_courses.router, http_admin.router],
            title="katflow intake",
            description="Consultation requests, patients and consent, screening, preparation, protocols.",
        )
    )
    app.state.settings = settings
    app.state.protocols = protocols
    app.state.form_rules = form_rules(settings)
    return app


def form_rules(settings: IntakeSettings) -> FormRules:
    return FormRules(
        minimum_age_years=settings.minimum_age_years,
        phone_country_codes=tuple(settings.phone_country_codes),
        per_destination_per_day=settings.public_form_per_destination_per_day,
        per_hour=settings.public_form_per_hour,
    )
