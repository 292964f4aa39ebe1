"""Operations (admins): dead letters per service with replay (``katflow dlq``'s own code) and
consumer lag. The console is the owner of this page's action, so it checks the role itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from katflow_shared.roles import Role
from katflow_tools import dlq

from ..adapters.service_metrics import consumer_lag
from ..service_layer.sessions import Staff
from .web import ConsoleDep, StaffDep, page

router = APIRouter(tags=["operations"])
SERVICES = ("intake", "scheduling", "notifications", "console")


def _admin(who: Staff) -> None:
    if not who.holds(Role.ADMIN):
        raise HTTPException(403, "operations are for admins")


@router.get("/operations", summary="Dead letters per service, consumer lag (admins)")
async def operations(request: Request, c: ConsoleDep, who: StaffDep, replayed: str = "") -> Response:
    _admin(who)
    letters = {s: await dlq.read_all(c.settings, s) for s in SERVICES}
    lag = {s: await consumer_lag(c.service_url(s)) for s in SERVICES}
    context = {"letters": letters, "lag": lag, "replayed": replayed}
    return page(request, "operations.html", who, **context)  # type: ignore[no-any-return]


@router.post("/operations/{service}/replay", summary="Replay one dead letter to its source topic")
async def replay(
    service: str,
    c: ConsoleDep,
    who: StaffDep,
    partition: Annotated[int, Form()],
    offset: Annotated[int, Form()],
) -> Response:
    _admin(who)
    if service not in SERVICES:
        raise HTTPException(404, "no such service")
    letters = await dlq.read_all(c.settings, service)
    found = [x for x in letters if (x.partition, x.offset) == (partition, offset)]
    if not found:
        raise HTTPException(404, "no such dead letter")
    topic = await dlq.replay(c.settings, found[0])
    return RedirectResponse(f"/operations?replayed={service}+{partition}:{offset}+to+{topic}", 303)
