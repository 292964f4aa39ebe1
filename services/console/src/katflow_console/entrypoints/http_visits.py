"""The dosing visit: check-in with the pre-dose checks, administration, discharge. Each is the
owning service's API called as the person; a refusal is shown as its sentence beside the field."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from katflow_shared.auth import Role
from katflow_shared.protocols import load_protocols

from ..adapters import postgres_read_model as store
from ..adapters import postgres_rems
from ..domain import rems as rems_form
from ..domain import rules
from ..service_layer.sessions import Staff
from .web import ClockDep, Console, ConsoleDep, PoolDep, StaffDep, page

router = APIRouter(tags=["dosing visit"])
Severity = Literal["none", "mild", "moderate", "severe"]
ADVERSE_CODE = {
    "sedation": "sedation_prolonged",
    "dissociation": "dissociation_severe",
    "respiratory_depression": "respiratory_depression",
}
ACTION_OF = {"check-in": "check-in", "administration": "administration", "session": "discharge"}
FIELD_OF = {"blood_pressure": "blood_pressure", "systolic": "blood_pressure", "diastolic": "blood_pressure"}


@router.get("/visits/{appointment_id}", summary="A visit: check-in, administration, discharge")
async def visit(
    request: Request, appointment_id: UUID, c: ConsoleDep, pool: PoolDep, who: StaffDep
) -> Response:
    return await _render(request, appointment_id, c, pool, who, {}, 200)


@router.get("/visits/{appointment_id}/checks", summary="The visit's monitoring prompts (htmx polls it)")
async def checks(
    request: Request, appointment_id: UUID, c: ConsoleDep, pool: PoolDep, who: StaffDep
) -> Response:
    appt = await store.appointment(pool, appointment_id)
    if appt is None:
        raise HTTPException(404, "no such appointment on the board")
    found = await store.checks_prompted(pool, appt["course_id"], appt["starts_at"])
    return page(request, "_checks.html", who, checks=found, zone=c.zone)  # type: ignore[no-any-return]


async def _render(
    request: Request,
    appointment_id: UUID,
    c: Console,
    pool: Any,
    who: Staff,
    refusal: dict[str, str],
    status: int,
) -> Response:
    appt = await store.appointment(pool, appointment_id)
    if appt is None:
        raise HTTPException(404, "no such appointment on the board")
    checks = await store.checks_prompted(pool, appt["course_id"], appt["starts_at"])
    ready = await store.readiness(pool, appt["course_id"], appointment_id)
    context = {"appt": appt, "refusal": refusal, "zone": c.zone, "checks": checks, "readiness": ready}
    context["may_administer"] = who.holds(Role.CLINICIAN)
    resp: Response = page(request, "visit.html", who, **context)
    resp.status_code = status
    return resp


@router.post("/visits/{appointment_id}/check-in", summary="Check in (dosing: the pre-dose checks)")
async def check_in(
    request: Request,
    appointment_id: UUID,
    c: ConsoleDep,
    pool: PoolDep,
    clock: ClockDep,
    who: StaffDep,
    systolic: Annotated[int, Form()],
    diastolic: Annotated[int, Form()],
    ride_home: Annotated[bool, Form()] = False,
    fasting: Annotated[bool, Form()] = False,
) -> Response:
    body = {
        "dosing": {
            "blood_pressure": {"systolic": systolic, "diastolic": diastolic},
            "ride_home_confirmed": ride_home,
            "fasting_confirmed": fasting,
        }
    }
    path = f"/appointments/{appointment_id}/check-in"
    record = {"pre_bp": f"{systolic}/{diastolic}"}
    return await _act(request, appointment_id, c, pool, clock, who, path, body, "checked_in", record)


@router.post("/visits/{appointment_id}/administration", summary="Record the dose given; monitoring starts")
async def administer(
    request: Request,
    appointment_id: UUID,
    c: ConsoleDep,
    pool: PoolDep,
    clock: ClockDep,
    who: StaffDep,
    dose_mg: Annotated[float, Form()],
    lot_number: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    path = f"/appointments/{appointment_id}/administration"
    record = {"dose_mg": dose_mg, "lot_number": lot_number.strip()}
    body = {"dose_mg": dose_mg}
    return await _act(request, appointment_id, c, pool, clock, who, path, body, "in_monitoring", record)


async def _act(
    request: Request,
    appointment_id: UUID,
    c: Console,
    pool: Any,
    clock: Any,
    who: Staff,
    path: str,
    body: dict[str, Any],
    status: str,
    record: dict[str, Any],
) -> Response:
    answer = await c.services.act(who.access_token, who.subject, "scheduling", path, body)
    if not answer.ok:
        field, rule, sentence = answer.refusal()
        action = ACTION_OF.get(path.rsplit("/", 1)[-1], "")
        refusal = {"action": action, "field": FIELD_OF.get(field, field), "rule": rule}
        refusal["sentence"] = rules.sentence(rule, sentence)
        return await _render(request, appointment_id, c, pool, who, refusal, answer.status)
    await store.set_status(pool, appointment_id, status, clock.now())
    await store.record_visit(pool, appointment_id, record, clock.now())
    return RedirectResponse(f"/visits/{appointment_id}", 303)


@router.post("/visits/{appointment_id}/discharge", summary="Discharge: close monitoring, record the session")
async def discharge(
    request: Request,
    appointment_id: UUID,
    c: ConsoleDep,
    pool: PoolDep,
    clock: ClockDep,
    who: StaffDep,
    post_systolic: Annotated[int, Form()],
    post_diastolic: Annotated[int, Form()],
    max_systolic: Annotated[int, Form()],
    min_spo2: Annotated[int, Form()],
    end_systolic: Annotated[int, Form()],
    end_diastolic: Annotated[int, Form()],
    assessment_passed: Annotated[bool, Form()] = False,
    sedation: Annotated[Severity, Form()] = "none",
    dissociation: Annotated[Severity, Form()] = "none",
    respiratory_depression: Annotated[Severity, Form()] = "none",
) -> Response:
    vitals = {
        "post_dose_bp": {"systolic": post_systolic, "diastolic": post_diastolic},
        "max_systolic": max_systolic,
        "min_spo2": min_spo2,
        "discharge_bp": {"systolic": end_systolic, "diastolic": end_diastolic},
    }
    effects = {"sedation": sedation, "dissociation": dissociation}
    effects["respiratory_depression"] = respiratory_depression
    adverse = [{"code": ADVERSE_CODE[k], "severity": v} for k, v in effects.items() if v != "none"]
    body = {"vitals": vitals, "adverse_events": adverse, "discharge_assessment_passed": assessment_passed}
    record = {
        "post_bp": f"{post_systolic}/{post_diastolic}",
        "discharge_bp": f"{end_systolic}/{end_diastolic}",
        "effects": effects,
    }
    path = f"/appointments/{appointment_id}/session"
    return await _act(request, appointment_id, c, pool, clock, who, path, body, "discharged", record)


@router.get("/visits/{appointment_id}/rems", summary="The visit's REMS Patient Monitoring Form, filled")
async def rems(
    request: Request, appointment_id: UUID, c: ConsoleDep, pool: PoolDep, clock: ClockDep, who: StaffDep
) -> Response:
    appt = await store.appointment(pool, appointment_id)
    if appt is None:
        raise HTTPException(404, "no such appointment on the board")
    session = await store.session_of(pool, appointment_id)
    patient = f"{appt['given_name'] or ''} {appt['family_name'] or ''}".strip() or "(name pending)"
    record = await store.visit_record(pool, appointment_id)
    born = await store.date_of_birth(pool, appt["patient_id"])
    rows = rems_form.form(patient, born, record, session, c.zone)
    days = load_protocols().get(session["protocol_version"]).dosing.rems_form_due_days if session else None
    today = clock.now().astimezone(c.zone).date()
    due = rems_form.filing_due(session, days, today, c.zone) if days else None
    filed = await postgres_rems.filing(pool, appointment_id)
    context = {"appt": appt, "rows": rows, "due": due, "session": session, "filed": filed, "zone": c.zone}
    return page(request, "rems.html", who, **context)  # type: ignore[no-any-return]


@router.post("/visits/{appointment_id}/rems/filed", summary="The REMS form was filed (who and when kept)")
async def rems_filed(appointment_id: UUID, pool: PoolDep, clock: ClockDep, who: StaffDep) -> Response:
    await postgres_rems.mark_filed(pool, appointment_id, who.subject, clock.now())
    return RedirectResponse(f"/visits/{appointment_id}/rems", 303)
