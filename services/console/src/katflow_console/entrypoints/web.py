"""What every page needs: templates, the signed-in person (or a redirect to log in), the wiring.

Every request of a signed-in person is in the console's audit trail as theirs (``staff`` hands the
kernel's request middleware the person), and every page names the patients and courses it showed
(``page`` finds their ids in what it renders): "who saw patient X" covers the console too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from katflow_shared import audit
from katflow_shared.auth import STATE_PRINCIPAL, Authenticator, Principal
from katflow_shared.clock import Clock
from katflow_shared.roles import Role

from ..adapters.oidc import Idp
from ..adapters.services_api import Answer, Services
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
    roles = frozenset(r for r in Role if r.value in found.roles)
    setattr(request.state, STATE_PRINCIPAL, Principal(found.subject, roles, "jwt"))  # the audit's actor
    return found


ConsoleDep = Annotated[Console, Depends(console)]
PoolDep = Annotated[asyncpg.Pool, Depends(pool)]
ClockDep = Annotated[Clock, Depends(clock)]
StaffDep = Annotated[Staff, Depends(staff)]


@dataclass(frozen=True)
class Ctx:
    """What a page route works with: the request, the console, its pool and clock, the person."""

    request: Request
    c: Console
    pool: asyncpg.Pool
    clock: Clock
    who: Staff

    def page(self, name: str, **context: Any) -> Response:
        """``page`` for this request and person."""
        resp: Response = page(self.request, name, self.who, **context)
        return resp

    async def call(self, method: str, service: str, path: str, body: Any = None) -> Answer:
        """A service's API, called as the person (with their access token)."""
        return await self.c.services.call(self.who.access_token, method, service, path, body)


async def _ctx(request: Request, c: ConsoleDep, pool: PoolDep, clock: ClockDep, who: StaffDep) -> Ctx:
    return Ctx(request, c, pool, clock, who)


CtxDep = Annotated[Ctx, Depends(_ctx)]


def page(request: Request, name: str, who: Staff, **context: Any) -> Any:
    patients: set[UUID] = set()
    courses: set[UUID] = set()
    _ids_in(context, patients, courses)
    audit.read(request, patients=patients, courses=courses)
    return TEMPLATES.TemplateResponse(request, name, {"staff": who, **context})


def _ids_in(value: Any, patients: set[UUID], courses: set[UUID], depth: int = 0) -> None:
    """Collect the ``patient_id`` / ``course_id`` values (and lists of them) of what a page renders:
    rows, API answers and their nesting (a few levels: pages render nothing deeper)."""
    if depth > 4:
        return
    items: Any = None
    if isinstance(value, Mapping | asyncpg.Record):
        items = value.items()
    elif isinstance(value, list | tuple):
        for element in value:
            _ids_in(element, patients, courses, depth + 1)
        return
    for key, inner in items or ():
        found = patients if key in ("patient_id", "patient_ids") else courses if key in COURSE_KEYS else None
        if found is not None:
            for candidate in inner if isinstance(inner, list | tuple) else [inner]:
                if (known := audit.as_uuid(candidate)) is not None:
                    found.add(known)
                else:
                    _ids_in(candidate, patients, courses, depth + 1)
        else:
            _ids_in(inner, patients, courses, depth + 1)


COURSE_KEYS = ("course_id", "course_ids", "courses")


def local(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


TEMPLATES.env.filters["day"] = lambda at, zone: at.astimezone(zone).strftime("%a %d %b %H:%M")
