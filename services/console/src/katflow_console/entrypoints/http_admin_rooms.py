"""Clinic administration (admins): rooms and their capabilities, through scheduling's admin API
(``http_admin`` says how)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import Response

from . import admin_forms as forms
from .web import Ctx, CtxDep

router = APIRouter(prefix="/admin", tags=["clinic administration (admins)"])


@router.get("/rooms", summary="Rooms and their capabilities (admins)")
async def rooms(p: CtxDep) -> Response:
    forms.require_admin(p.who)
    return await forms.render(p, "admin_rooms.html")


async def _put_room(p: Ctx, room_id: str, display_name: str, capabilities: str, action: str) -> Response:
    names = [x for x in capabilities.replace(",", " ").split() if x]
    body = {"display_name": display_name.strip(), "capabilities": names}
    answer = await p.call("PUT", "scheduling", f"/admin/rooms/{room_id}", body)
    entered = {"room_id": room_id, "display_name": display_name, "capabilities": capabilities}
    if not answer.ok:
        refusal = forms.refusal_of(answer, action)
        refusal["room"] = room_id
        return await forms.render(p, "admin_rooms.html", answer.status, refusal=refusal, entered=entered)
    done = f"Room {room_id} {'added' if answer.status == 201 else 'saved'}."
    return await forms.render(p, "admin_rooms.html", done=done)


@router.post("/rooms", summary="Add a room (scheduling's PUT; refused here when the id is taken)")
async def add_room(
    p: CtxDep,
    room_id: forms.Id,
    display_name: Annotated[str, Form(max_length=100)],
    capabilities: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    forms.require_admin(p.who)
    clinic = await forms.read_clinic(p.c, p.who)
    if any(r["id"] == room_id for r in clinic["rooms"]):
        refusal = forms.form_refusal(
            "room-add", "room_id", f"There is a room {room_id} already: change it in its row."
        )
        entered = {"room_id": room_id, "display_name": display_name, "capabilities": capabilities}
        return await forms.render(p, "admin_rooms.html", 409, refusal=refusal, entered=entered)
    return await _put_room(p, room_id, display_name, capabilities, "room-add")


@router.post("/rooms/{room_id}", summary="Change a room (scheduling's PUT)")
async def save_room(
    room_id: forms.PathId,
    p: CtxDep,
    display_name: Annotated[str, Form(max_length=100)],
    capabilities: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    forms.require_admin(p.who)
    return await _put_room(p, room_id, display_name, capabilities, "room")
