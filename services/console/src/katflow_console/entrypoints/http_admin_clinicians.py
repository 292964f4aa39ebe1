"""Clinic administration (admins): clinicians (roles, qualifications, weekly hours) and their time
off, through scheduling's admin API (``http_admin`` says how)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from ..service_layer.sessions import Staff
from . import admin_forms as forms
from .web import Console, ConsoleDep, StaffDep, page

router = APIRouter(prefix="/admin", tags=["clinic administration (admins)"])


@router.get("/clinicians", summary="Clinicians: roles, qualifications, hours, time off (admins)")
async def clinicians(request: Request, c: ConsoleDep, who: StaffDep) -> Response:
    forms.require_admin(who)
    return await forms.render(request, "admin_clinicians.html", c, who)


async def _clinician_page(
    request: Request, clinician_id: str, c: Console, who: Staff, status: int = 200, **context: Any
) -> Response:
    clinic = await forms.read_clinic(c, who)
    found = [x for x in clinic["clinicians"] if x["id"] == clinician_id]
    if not found:
        raise HTTPException(404, "no such clinician")
    context.setdefault("refusal", {})
    context.setdefault("entered", {})
    resp: Response = page(
        request,
        "admin_clinician.html",
        who,
        clinic=clinic,
        clinician=found[0],
        weekdays=forms.WEEKDAYS,
        booking_roles=forms.BOOKING_ROLES,
        zone=c.zone,
        **context,
    )
    resp.status_code = status
    return resp


@router.get("/clinicians/{clinician_id}", summary="One clinician: edit, time off (admins)")
async def clinician(request: Request, clinician_id: forms.PathId, c: ConsoleDep, who: StaffDep) -> Response:
    forms.require_admin(who)
    return await _clinician_page(request, clinician_id, c, who)


@router.post("/clinicians/{clinician_id}", summary="Change a clinician (scheduling's PUT)")
async def save_clinician(
    request: Request, clinician_id: forms.PathId, c: ConsoleDep, who: StaffDep
) -> Response:
    forms.require_admin(who)
    form = await request.form()
    week, refused = forms.week_of(form, "hours_", "clinician")
    entered = forms.entered_week(form, "hours_")
    entered["display_name"] = str(form.get("display_name", ""))
    entered["qualifications"] = str(form.get("qualifications", ""))
    roles = [str(r) for r in form.getlist("roles")]
    entered["roles"] = " ".join(roles)
    if refused:
        return await _clinician_page(request, clinician_id, c, who, 422, refusal=refused, entered=entered)
    qualifications = [q for q in entered["qualifications"].replace(",", " ").split() if q]
    body = {
        "display_name": entered["display_name"].strip(),
        "roles": roles,
        "qualifications": qualifications,
        "hours": week or None,
    }
    path = f"/admin/clinicians/{clinician_id}"
    answer = await c.services.call(who.access_token, "PUT", "scheduling", path, body)
    if not answer.ok:
        refusal = forms.refusal_of(answer, "clinician")
        return await _clinician_page(
            request, clinician_id, c, who, answer.status, refusal=refusal, entered=entered
        )
    affected = forms.affected_of(answer)
    done = forms.outcome_sentence(f"{clinician_id} saved", affected)
    return await _clinician_page(request, clinician_id, c, who, done=done, affected=affected)


@router.post("/clinicians/{clinician_id}/time-off", summary="A clinician away for whole days")
async def add_time_off(
    request: Request,
    clinician_id: forms.PathId,
    c: ConsoleDep,
    who: StaffDep,
    first_day: Annotated[date, Form()],
    last_day: Annotated[date, Form()],
) -> Response:
    forms.require_admin(who)
    body = {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()}
    path = f"/admin/clinicians/{clinician_id}/time-off"
    answer = await c.services.call(who.access_token, "POST", "scheduling", path, body)
    entered = {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()}
    if not answer.ok:
        refusal = forms.refusal_of(answer, "time-off")
        return await _clinician_page(
            request, clinician_id, c, who, answer.status, refusal=refusal, entered=entered
        )
    affected = forms.affected_of(answer)
    days = (
        forms.day_words(first_day)
        if first_day == last_day
        else f"{forms.day_words(first_day)} to {forms.day_words(last_day)}"
    )
    done = forms.outcome_sentence(f"Time off added for {clinician_id}, {days}", affected)
    return await _clinician_page(request, clinician_id, c, who, done=done, affected=affected)


@router.post("/clinicians/{clinician_id}/time-off/{time_off_id}/remove", summary="Withdraw time off")
async def remove_time_off(
    request: Request, clinician_id: forms.PathId, time_off_id: UUID, c: ConsoleDep, who: StaffDep
) -> Response:
    forms.require_admin(who)
    path = f"/admin/clinicians/{clinician_id}/time-off/{time_off_id}"
    answer = await c.services.call(who.access_token, "DELETE", "scheduling", path)
    if not answer.ok:
        refusal = forms.refusal_of(answer, "time-off-remove")
        return await _clinician_page(request, clinician_id, c, who, answer.status, refusal=refusal)
    done = f"Time off withdrawn: {clinician_id} may be booked on those days again."
    return await _clinician_page(request, clinician_id, c, who, done=done)
