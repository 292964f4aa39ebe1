"""The patient's page alone: ``python -m katflow_notifications.portal``.

The same package and database as notifications, but only the ``/portal/`` router (plus health and
metrics): no consumer, no dispatcher, no timers, no staff or provider endpoints. Deploy it where the
internet can reach it and keep the notifications process internal; links the dispatcher mints open
here because both read the same ``portal_links`` table. Its requests and readiness events leave
through the outbox like any other (its own relay)."""

from __future__ import annotations

from fastapi import FastAPI

from katflow_shared.clock import clock_for
from katflow_shared.runtime import ServiceSpec, create_app
from katflow_shared.serve import serve
from katflow_shared.treatment_protocols import load_protocols

from .bootstrap import load_directory
from .domain.templates import default_registry
from .entrypoints import http_portal
from .entrypoints.deps import NotificationsDeps
from .service_layer.inbound import InboundTexts
from .service_layer.planning import Planner
from .settings import NotificationsSettings


def build_portal_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    clock = clock_for(settings.environment, settings.clock_offset_file)
    planner = Planner(load_directory(settings), default_registry(settings.default_locale), settings, clock)
    app = create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_notifications"],
            routers=[http_portal.router],
            clock=clock,
            title="katflow patient page",
            description="The patient's own page, reached from the signed link in every patient message.",
        )
    )
    protocols = load_protocols(settings.protocols_dir)
    app.state.notifications = NotificationsDeps(settings, planner, InboundTexts(planner), protocols)
    return app


def main() -> None:
    settings = NotificationsSettings()
    serve(build_portal_app(settings), settings)


if __name__ == "__main__":
    main()
