"""Clinic administration (admins): rooms and their capabilities, through scheduling's admin API
(``http_admin`` says how)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ..service_layer.sessions import Staff
from . import admin_forms as forms
from .web import Console, ConsoleDep, StaffDep

router = APIRouter(prefix="/admin", tags=["clinic administration (admins)"])


@router.get("/rooms", summary="Rooms and their capabilities (admins)")
async def rooms(request: Request, c: ConsoleDep, who: StaffDep) -> Response:
    forms.require_admin(who)
    return await forms.render(request, "admin_rooms.html", c, who)


async def _put_room(
    request: Request, c: Console, who: Staff, room_id: str, display_name: str, capabilities: str, action: str
) -> Response:
    names = [x for x in capabilities.replace(",", " ").split() if x]
    body = {"display_name": display_name.strip(), "capabilities": names}
    answer = await c.services.call(who.access_token, "PUT", "scheduling", f"/admin/rooms/{room_id}", body)
    entered = {"room_id": room_id, "display_name": display_name, "capabilities": capabilities}
    if not answer.ok:
        refusal = forms.refusal_of(answer, action)
        refusal["room"] = room_id
        return await forms.render(
            request, "admin_rooms.html", c, who, answer.status, refusal=refusal, entered=entered
        )
    done = f"Room {room_id} {'added' if answer.status == 201 else 'saved'}."
    return await forms.render(request, "admin_rooms.html", c, who, done=done)


@router.post("/rooms", summary="Add a room (scheduling's PUT; refused here when the id is taken)")
async def add_room(
    request: Request,
    c: ConsoleDep,
    who: StaffDep,
    room_id: forms.Id,
    display_name: Annotated[str, Form(max_length=100)],
    capabilities: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    forms.require_admin(who)
    clinic = await forms.read_clinic(c, who)
    if any(r["id"] == room_id for r in clinic["rooms"]):
        refusal = forms.form_refusal(
            "room-add", "room_id", f"There is a room {room_id} already: change it in its row."
        )
        entered = {"room_id": room_id, "display_name": display_name, "capabilities": capabilities}
        return await forms.render(request, "admin_rooms.html", c, who, 409, refusal=refusal, entered=entered)
    return await _put_room(request, c, who, room_id, display_name, capabilities, "room-add")


@router.post("/rooms/{room_id}", summary="Change a room (scheduling's PUT)")
async def save_room(
    request: Request,
    room_id: forms.PathId,
    c: ConsoleDep,
    who: StaffDep,
    display_name: Annotated[str, Form(max_length=100)],
    capabilities: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    forms.require_admin(who)
    return await _put_room(request, c, who, room_id, display_name, capabilities, "room")
