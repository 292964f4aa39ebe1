"""Clinic administration (admins): clinicians, rooms, opening hours, closures, time off and the
protocol versions on file, each read and changed through scheduling's admin API (``/v1/admin``) with
the person's own access token — except which protocol version new courses get, which is intake's
(it pins a course's version). Scheduling owns every rule: its refusal (``detail[0]``) is shown as a
sentence beside the field, and what a change did to booked appointments (its ``affected``: given to
another clinician, moved, displaced) as a sentence with the appointments listed.

HTML forms only post, so a removal is a POST to ``.../remove``. A change's outcome is rendered as
the answer to its POST (the affected appointments are listed there, nowhere else)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from . import admin_forms as forms
from .web import CtxDep, StaffDep

router = APIRouter(prefix="/admin", tags=["clinic administration (admins)"])


@router.get("", summary="Clinic administration (admins): to the clinic's page")
async def admin_home(who: StaffDep) -> Response:
    forms.require_admin(who)
    return RedirectResponse("/admin/clinic", 303)


@router.get("/clinic", summary="Opening hours and closures (admins)")
async def clinic(p: CtxDep) -> Response:
    forms.require_admin(p.who)
    return await forms.render(p, "admin_clinic.html")


@router.post("/opening-hours", summary="Set the weekly opening hours (scheduling's PUT)")
async def opening_hours(p: CtxDep) -> Response:
    forms.require_admin(p.who)
    form = await p.request.form()
    week, refused = forms.week_of(form, "open_", "opening-hours")
    entered = forms.entered_week(form, "open_")
    if refused:
        return await forms.render(p, "admin_clinic.html", 422, refusal=refused, entered=entered)
    body = {"opening_hours": week}
    answer = await p.call("PUT", "scheduling", "/admin/opening-hours", body)
    if not answer.ok:
        refusal = forms.refusal_of(answer, "opening-hours")
        return await forms.render(p, "admin_clinic.html", answer.status, refusal=refusal, entered=entered)
    affected = forms.affected_of(answer)
    done = forms.outcome_sentence("Opening hours saved", affected)
    return await forms.render(p, "admin_clinic.html", done=done, affected=affected)


@router.post("/closures", summary="Close the clinic on a day (scheduling's POST /closures)")
async def add_closure(
    p: CtxDep,
    day: Annotated[date, Form()],
    label: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    forms.require_admin(p.who)
    body = {"day": day.isoformat(), "label": label.strip()}
    answer = await p.call("POST", "scheduling", "/admin/closures", body)
    entered = {"closure_day": day.isoformat(), "closure_label": label}
    if not answer.ok:
        refusal = forms.refusal_of(answer, "closure")
        return await forms.render(p, "admin_clinic.html", answer.status, refusal=refusal, entered=entered)
    affected = forms.affected_of(answer)
    named = f" ({label.strip()})" if label.strip() else ""
    done = forms.outcome_sentence(f"Closed {forms.day_words(day)}{named}", affected)
    return await forms.render(p, "admin_clinic.html", done=done, affected=affected)


@router.post("/closures/{day}/remove", summary="Open a closed day again (scheduling's DELETE)")
async def remove_closure(day: date, p: CtxDep) -> Response:
    forms.require_admin(p.who)
    path = f"/admin/closures/{day.isoformat()}"
    answer = await p.call("DELETE", "scheduling", path)
    if not answer.ok:
        refusal = forms.refusal_of(answer, "closure-remove")
        return await forms.render(p, "admin_clinic.html", answer.status, refusal=refusal)
    done = f"{forms.day_words(day)} is open again (bookings may use it from now on)."
    return await forms.render(p, "admin_clinic.html", done=done)
