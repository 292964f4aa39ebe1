"""The dosing visit: check-in with the pre-dose checks, administration, discharge. Each is the
owning service's API called as the person; a refusal is shown as its sentence beside the field."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from katflow_shared.auth import Role

from ..adapters import postgres_read_model as store
from ..domain import rules
from ..service_layer.sessions import Staff
from .web import ClockDep, Console, ConsoleDep, PoolDep, StaffDep, page

router = APIRouter(tags=["dosing visit"])
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
    return await _act(request, appointment_id, c, pool, clock, who, path, body, "checked_in")


@router.post("/visits/{appointment_id}/administration", summary="Record the dose given; monitoring starts")
async def administer(
    request: Request,
    appointment_id: UUID,
    c: ConsoleDep,
    pool: PoolDep,
    clock: ClockDep,
    who: StaffDep,
    dose_mg: Annotated[float, Form()],
) -> Response:
    path = f"/appointments/{appointment_id}/administration"
    return await _act(
        request, appointment_id, c, pool, clock, who, path, {"dose_mg": dose_mg}, "in_monitoring"
    )


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
) -> Response:
    answer = await c.services.act(who.access_token, who.subject, "scheduling", path, body)
    if not answer.ok:
        field, rule, sentence = answer.refusal()
        action = ACTION_OF.get(path.rsplit("/", 1)[-1], "")
        refusal = {"action": action, "field": FIELD_OF.get(field, field), "rule": rule}
        refusal["sentence"] = rules.sentence(rule, sentence)
        return await _render(request, appointment_id, c, pool, who, refusal, answer.status)
    await store.set_status(pool, appointment_id, status, clock.now())
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
    assessment_passed: Annotated[bool, Form()] = False,
) -> Response:
    vitals = {
        "post_dose_bp": {"systolic": post_systolic, "diastolic": post_diastolic},
        "max_systolic": max_systolic,
        "min_spo2": min_spo2,
    }
    body = {"vitals": vitals, "adverse_events": [], "discharge_assessment_passed": assessment_passed}
    path = f"/appointments/{appointment_id}/session"
    return await _act(request, appointment_id, c, pool, clock, who, path, body, "discharged")
