"""Clinic administration (admins): the protocol versions on file (scheduling's) and which one new
courses of a route get (intake's: it pins a course's version)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import Response

from . import admin_forms as forms
from .web import Ctx, CtxDep

router = APIRouter(prefix="/admin", tags=["clinic administration (admins)"])
ProtocolId = Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,30}@[0-9]{1,6}$")]


@router.get("/protocols", summary="The protocol versions on file, and which new courses get (admins)")
async def protocols(p: CtxDep) -> Response:
    forms.require_admin(p.who)
    return await _protocols_page(p)


@router.post("/protocols/{protocol_id}/activate", summary="Pin new courses of its route to a version")
async def activate(protocol_id: ProtocolId, p: CtxDep) -> Response:
    """Intake pins a course's version at its first eligible decision, so activation is intake's."""
    forms.require_admin(p.who)
    path = f"/admin/protocols/{protocol_id}/activate"
    answer = await p.call("POST", "intake", path)
    if not answer.ok:
        refusal = forms.refusal_of(answer, "activate")["sentence"]
        return await _protocols_page(p, refusal=refusal, status=answer.status)
    route, before = answer.body["route"], answer.body["previous_version"]
    done = f"New {route} courses now get {protocol_id} (before: {before}); pinned courses keep theirs."
    return await _protocols_page(p, done=done)


async def _protocols_page(p: Ctx, done: str = "", refusal: str | None = None, status: int = 200) -> Response:
    answer = await p.call("GET", "intake", "/admin/protocols")
    if not answer.ok and refusal is None:
        refusal = forms.refusal_of(answer, "protocols")["sentence"]
    on_file = answer.body if answer.ok else []
    context = {"protocols": on_file, "refusal": refusal, "done": done, "zone": p.c.zone}
    resp = p.page("admin_protocols.html", **context)
    resp.status_code = status
    return resp


@router.get("/protocols/{protocol_id}", summary="One protocol version, in full (admins)")
async def protocol(protocol_id: ProtocolId, p: CtxDep) -> Response:
    forms.require_admin(p.who)
    answer = await p.call("GET", "scheduling", f"/admin/protocols/{protocol_id}")
    if answer.status == 404:
        raise HTTPException(404, "no such protocol version")
    if not answer.ok:
        raise HTTPException(502, f"scheduling answered {answer.status}")
    found: dict[str, Any] = answer.body
    text = json.dumps(found["protocol"], indent=2, ensure_ascii=False)
    return p.page("admin_protocol.html", p=found, text=text)
