"""Operations (admins): dead letters per service with replay (``katflow dlq``'s own code) and
consumer lag. The console is the owner of this page's action, so it checks the role itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import RedirectResponse, Response

from katflow_shared.roles import Role
from katflow_tools import dlq

from ..adapters.service_metrics import consumer_lag
from ..service_layer.sessions import Staff
from .web import CtxDep

router = APIRouter(tags=["operations"])
SERVICES = ("intake", "scheduling", "notifications", "console")


def _admin(who: Staff) -> None:
    if not who.holds(Role.ADMIN):
        raise HTTPException(403, "operations are for admins")


@router.get("/operations", summary="Dead letters per service, consumer lag (admins)")
async def operations(p: CtxDep, replayed: str = "") -> Response:
    _admin(p.who)
    letters = {s: await dlq.read_all(p.c.settings, s) for s in SERVICES}
    lag = {s: await consumer_lag(p.c.service_url(s)) for s in SERVICES}
    return p.page("operations.html", letters=letters, lag=lag, replayed=replayed)


@router.post("/operations/{service}/replay", summary="Replay one dead letter to its source topic")
async def replay(
    service: str,
    p: CtxDep,
    partition: Annotated[int, Form()],
    offset: Annotated[int, Form()],
) -> Response:
    _admin(p.who)
    if service not in SERVICES:
        raise HTTPException(404, "no such service")
    letters = await dlq.read_all(p.c.settings, service)
    found = [x for x in letters if (x.partition, x.offset) == (partition, offset)]
    if not found:
        raise HTTPException(404, "no such dead letter")
    topic = await dlq.replay(p.c.settings, found[0])
    return RedirectResponse(f"/operations?replayed={service}+{partition}:{offset}+to+{topic}", 303)
