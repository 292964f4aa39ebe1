"""What every page needs: templates, the signed-in person (or a redirect to log in), the wiring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates

from katflow_shared.auth import Authenticator
from katflow_shared.clock import Clock

from ..adapters.oidc import Idp
from ..adapters.services_api import Services
from ..domain.board import STATUS_WORDS
from ..service_layer import sessions
from ..service_layer.sessions import Staff
from ..settings import ConsoleSettings

COOKIE = "katflow_console"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
TEMPLATES.env.globals["status_words"] = STATUS_WORDS


@dataclass(frozen=True)
class Console:
    settings: ConsoleSettings
    idp: Idp
    services: Services

    def service_url(self, service: str) -> str:
        if service == "console":
            return self.settings.console_url
        return self.services.urls[service]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.settings.clinic_time_zone)


class LoginRequired(Exception):
    """No live session: the browser goes to the login (and back to ``next_path`` after)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def console(request: Request) -> Console:
    wired: Console = request.app.state.console
    return wired


def pool(request: Request) -> asyncpg.Pool:
    return request.app.state.runtime.pool


def clock(request: Request) -> Clock:
    return request.app.state.runtime.clock  # type: ignore[no-any-return]


async def staff(request: Request) -> Staff:
    session_id = request.cookies.get(COOKIE)
    auth: Authenticator = request.app.state.katflow_auth
    found = (
        await sessions.current(pool(request), console(request).idp, auth, session_id) if session_id else None
    )
    if found is None:
        if request.method != "GET":
            raise HTTPException(401, "log in again")
        raise LoginRequired(request.url.path)
    return found


ConsoleDep = Annotated[Console, Depends(console)]
PoolDep = Annotated[asyncpg.Pool, Depends(pool)]
ClockDep = Annotated[Clock, Depends(clock)]
StaffDep = Annotated[Staff, Depends(staff)]


def page(request: Request, name: str, who: Staff, **context: Any) -> Any:
    return TEMPLATES.TemplateResponse(request, name, {"staff": who, **context})


def local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


TEMPLATES.env.filters["day"] = lambda at, zone: at.astimezone(zone).strftime("%a %d %b %H:%M")
