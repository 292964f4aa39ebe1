"""The console's composition root."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from katflow_shared.clock import Clock, clock_for
from katflow_shared.runtime import ServiceSpec, create_app

from .adapters.oidc import Idp
from .adapters.services_api import Services
from .entrypoints import (
    http_admin,
    http_admin_clinicians,
    http_admin_protocols,
    http_admin_rooms,
    http_auth,
    http_lists,
    http_operations,
    http_pages,
    http_visits,
)
from .entrypoints.consumer import handlers
from .entrypoints.web import Console, LoginRequired
from .service_layer.rems_watch import RemsWatch
from .settings import ConsoleSettings


def build_app(settings: ConsoleSettings | None = None, clock: Clock | None = None) -> FastAPI:
    settings = settings or ConsoleSettings()
    clock = clock or clock_for(settings.environment, settings.clock_offset_file)
    zone = ZoneInfo(settings.clinic_time_zone)
    app = create_app(
        ServiceSpec(
            settings=settings,
            migrations=["katflow_console"],
            routers=[
                m.router
                for m in (
                    http_auth,
                    http_pages,
                    http_visits,
                    http_lists,
                    http_operations,
                    http_admin,
                    http_admin_clinicians,
                    http_admin_rooms,
                    http_admin_protocols,
                )
            ],
            handlers=handlers(clock, zone),
            workers=[lambda runtime: RemsWatch(runtime, zone, settings)],
            clock=clock,
            title="katflow console",
            description="The staff console: today's board, dosing visits, alerts and course timelines.",
        )
    )
    app.state.console = Console(settings, _idp(settings), _services(settings))
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    app.add_exception_handler(LoginRequired, _to_login)
    return app


def _idp(s: ConsoleSettings) -> Idp:
    redirect = f"{s.console_url.rstrip('/')}/auth/callback"
    secret = s.console_oidc_client_secret.get_secret_value()
    return Idp(s.issuer, s.console_oidc_client_id, secret, redirect, s.console_oidc_internal_url)


def _services(s: ConsoleSettings) -> Services:
    return Services(
        {"intake": s.intake_url, "scheduling": s.scheduling_url, "notifications": s.notifications_url}
    )


async def _to_login(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?next={quote(exc.next_path)}", 303)
