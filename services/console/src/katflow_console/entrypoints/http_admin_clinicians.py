"""Clinic administration (admins): clinicians (roles, qualifications, weekly hours) and their time
off, through scheduling's admin API (``http_admin`` says how)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, HTTPException
from fastapi.responses import Response

from . import admin_forms as forms
from .web import Ctx, CtxDep

router = APIRouter(prefix="/admin", tags=["clinic administration (admins)"])


@router.get("/clinicians", summary="Clinicians: roles, qualifications, hours, time off (admins)")
async def clinicians(p: CtxDep) -> Response:
    forms.require_admin(p.who)
    return await forms.render(p, "admin_clinicians.html")


async def _clinician_page(p: Ctx, clinician_id: str, status: int = 200, **context: Any) -> Response:
    clinic = await forms.read_clinic(p.c, p.who)
    found = [x for x in clinic["clinicians"] if x["id"] == clinician_id]
    if not found:
        raise HTTPException(404, "no such clinician")
    return await forms.render(p, "admin_clinician.html", status, clinic, clinician=found[0], **context)


@router.get("/clinicians/{clinician_id}", summary="One clinician: edit, time off (admins)")
async def clinician(clinician_id: forms.PathId, p: CtxDep) -> Response:
    forms.require_admin(p.who)
    return await _clinician_page(p, clinician_id)


@router.post("/clinicians/{clinician_id}", summary="Change a clinician (scheduling's PUT)")
async def save_clinician(clinician_id: forms.PathId, p: CtxDep) -> Response:
    forms.require_admin(p.who)
    form = await p.request.form()
    week, refused = forms.week_of(form, "hours_", "clinician")
    entered = forms.entered_week(form, "hours_")
    entered["display_name"] = str(form.get("display_name", ""))
    entered["qualifications"] = str(form.get("qualifications", ""))
    roles = [str(r) for r in form.getlist("roles")]
    entered["roles"] = " ".join(roles)
    if refused:
        return await _clinician_page(p, clinician_id, 422, refusal=refused, entered=entered)
    qualifications = [q for q in entered["qualifications"].replace(",", " ").split() if q]
    body = {
        "display_name": entered["display_name"].strip(),
        "roles": roles,
        "qualifications": qualifications,
        "hours": week or None,
    }
    path = f"/admin/clinicians/{clinician_id}"
    answer = await p.call("PUT", "scheduling", path, body)
    if not answer.ok:
        refusal = forms.refusal_of(answer, "clinician")
        return await _clinician_page(p, clinician_id, answer.status, refusal=refusal, entered=entered)
    affected = forms.affected_of(answer)
    done = forms.outcome_sentence(f"{clinician_id} saved", affected)
    return await _clinician_page(p, clinician_id, done=done, affected=affected)


@router.post("/clinicians/{clinician_id}/time-off", summary="A clinician away for whole days")
async def add_time_off(
    clinician_id: forms.PathId,
    p: CtxDep,
    first_day: Annotated[date, Form()],
    last_day: Annotated[date, Form()],
) -> Response:
    forms.require_admin(p.who)
    body = {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()}
    path = f"/admin/clinicians/{clinician_id}/time-off"
    answer = await p.call("POST", "scheduling", path, body)
    entered = {"first_day": first_day.isoformat(), "last_day": last_day.isoformat()}
    if not answer.ok:
        refusal = forms.refusal_of(answer, "time-off")
        return await _clinician_page(p, clinician_id, answer.status, refusal=refusal, entered=entered)
    affected = forms.affected_of(answer)
    days = (
        forms.day_words(first_day)
        if first_day == last_day
        else f"{forms.day_words(first_day)} to {forms.day_words(last_day)}"
    )
    done = forms.outcome_sentence(f"Time off added for {clinician_id}, {days}", affected)
    return await _clinician_page(p, clinician_id, done=done, affected=affected)


@router.post("/clinicians/{clinician_id}/time-off/{time_off_id}/remove", summary="Withdraw time off")
async def remove_time_off(clinician_id: forms.PathId, time_off_id: UUID, p: CtxDep) -> Response:
    forms.require_admin(p.who)
    path = f"/admin/clinicians/{clinician_id}/time-off/{time_off_id}"
    answer = await p.call("DELETE", "scheduling", path)
    if not answer.ok:
        refusal = forms.refusal_of(answer, "time-off-remove")
        return await _clinician_page(p, clinician_id, answer.status, refusal=refusal)
    done = f"Time off withdrawn: {clinician_id} may be booked on those days again."
    return await _clinician_page(p, clinician_id, done=done)
