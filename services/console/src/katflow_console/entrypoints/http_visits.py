"""The dosing visit: check-in with the pre-dose checks, administration, the 40-minute blood-pressure
check, discharge. Each is the owning service's API called as the person; a refusal is shown as its
sentence beside the field.

What the REMS monitoring form needs and no service keeps is stored in the console's ``visit_records``
only: the concomitant medications (entered at check-in: clinical free text, so it is never logged,
never sent to a service and never in an event), the time the patient would have been ready to leave
(entered at discharge) and the 40-minute blood pressure. Scheduling has no endpoint that records a
monitoring check's vitals (its MonitoringCheckDue is a prompt only), so the check is the console's
own record: the clinician's, with who recorded it and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Form, HTTPException
from fastapi.responses import RedirectResponse, Response

from katflow_shared.roles import Role
from katflow_shared.treatment_protocols import load_protocols

from ..adapters import postgres_read_model as store
from ..adapters import postgres_rems
from ..domain import rems as rems_form
from ..domain import rules
from .web import ClockDep, Console, Ctx, CtxDep, PoolDep, StaffDep, local

router = APIRouter(tags=["dosing visit"])
Severity = Literal["none", "mild", "moderate", "severe"]
ADVERSE_CODE = {
    "sedation": "sedation_prolonged",
    "dissociation": "dissociation_severe",
    "respiratory_depression": "respiratory_depression",
}
ACTION_OF = {"check-in": "check-in", "administration": "administration", "session": "discharge"}
FIELD_OF = {"blood_pressure": "blood_pressure", "systolic": "blood_pressure", "diastolic": "blood_pressure"}
MONITORING = ("in_monitoring", "discharge_ready")  # after the dose, before discharge
NOTES_MAX = 2000  # concomitant medications: characters


@dataclass(frozen=True)
class Visit(Ctx):
    """The visit a route is about, with what every page route works with (``Ctx``)."""

    appointment_id: UUID

    async def appointment(self) -> Any:
        appt = await store.appointment(self.pool, self.appointment_id)
        if appt is None:
            raise HTTPException(404, "no such appointment on the board")
        return appt


async def _visit(appointment_id: UUID, p: CtxDep) -> Visit:
    return Visit(p.request, p.c, p.pool, p.clock, p.who, appointment_id)


VisitDep = Annotated[Visit, Depends(_visit)]


@router.get("/visits/{appointment_id}", summary="A visit: check-in, administration, discharge")
async def visit(v: VisitDep) -> Response:
    return await _render(v, {}, 200)


@router.get("/visits/{appointment_id}/checks", summary="The visit's monitoring prompts (htmx polls it)")
async def checks(v: VisitDep) -> Response:
    context = await _monitoring(v, await v.appointment())
    return v.page("_checks.html", **context)


async def _monitoring(v: Visit, appt: Any) -> dict[str, Any]:
    """The monitoring prompts since the visit began, the 40-minute blood pressure if recorded, and
    whether this person may record it now (a clinician, during monitoring, once it was prompted)."""
    c, who = v.c, v.who
    found = await store.checks_prompted(v.pool, appt["course_id"], appt["starts_at"])
    record = await store.visit_record(v.pool, appt["appointment_id"])
    bp40 = record.get("bp_40min")
    prompted = any(check["check"] == "blood_pressure" for check in found)
    may = prompted and not bp40 and appt["status"] in MONITORING and who.holds(Role.CLINICIAN)
    return {
        "appt": appt,
        "checks": found,
        "zone": c.zone,
        "record": record,
        "bp40": _shown_check(bp40, c) if bp40 else None,
        "may_record_bp": may,
        "now_hhmm": local(v.clock.now(), c.zone),
    }


def _shown_check(check: dict[str, Any], c: Console) -> dict[str, Any]:
    taken, recorded = (datetime.fromisoformat(check[k]) for k in ("taken_at", "recorded_at"))
    return {**check, "taken": local(taken, c.zone), "recorded": recorded}


async def _render(
    v: Visit,
    refusal: dict[str, str],
    status: int,
    entered: dict[str, str] | None = None,
) -> Response:
    """The visit page; after a refusal, ``entered`` is what the form held (the person's own text,
    back in their form rather than lost)."""
    appt = await v.appointment()
    ready = await store.readiness(v.pool, appt["course_id"], v.appointment_id)
    context = await _monitoring(v, appt)
    context.update(refusal=refusal, readiness=ready, entered=entered or {})
    context["may_administer"] = v.who.holds(Role.CLINICIAN)
    resp = v.page("visit.html", **context)
    resp.status_code = status
    return resp


@router.post("/visits/{appointment_id}/check-in", summary="Check in (dosing: the pre-dose checks)")
async def check_in(
    v: VisitDep,
    systolic: Annotated[int, Form()],
    diastolic: Annotated[int, Form()],
    ride_home: Annotated[bool, Form()] = False,
    fasting: Annotated[bool, Form()] = False,
    concomitant_medications: Annotated[str, Form(max_length=NOTES_MAX)] = "",
) -> Response:
    """The concomitant medications go to ``visit_records`` only, never to scheduling."""
    body = {
        "dosing": {
            "blood_pressure": {"systolic": systolic, "diastolic": diastolic},
            "ride_home_confirmed": ride_home,
            "fasting_confirmed": fasting,
        }
    }
    path = f"/appointments/{v.appointment_id}/check-in"
    record: dict[str, Any] = {"pre_bp": f"{systolic}/{diastolic}"}
    medications = concomitant_medications.strip()
    if medications:
        record["concomitant_medications"] = medications
    entered = {"concomitant_medications": medications}
    return await _act(v, path, body, "checked_in", record, entered)


@router.post("/visits/{appointment_id}/administration", summary="Record the dose given; monitoring starts")
async def administer(
    v: VisitDep,
    dose_mg: Annotated[float, Form()],
    lot_number: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    path = f"/appointments/{v.appointment_id}/administration"
    record = {"dose_mg": dose_mg, "lot_number": lot_number.strip()}
    body = {"dose_mg": dose_mg}
    return await _act(v, path, body, "in_monitoring", record)


async def _act(
    v: Visit,
    path: str,
    body: dict[str, Any],
    status: str,
    record: dict[str, Any],
    entered: dict[str, str] | None = None,
) -> Response:
    answer = await v.c.services.act(v.who.access_token, v.who.subject, "scheduling", path, body)
    if not answer.ok:
        field, rule, sentence = answer.refusal()
        action = ACTION_OF.get(path.rsplit("/", 1)[-1], "")
        refusal = {"action": action, "field": FIELD_OF.get(field, field), "rule": rule}
        refusal["sentence"] = rules.sentence(rule, sentence)
        return await _render(v, refusal, answer.status, entered)
    await store.set_status(v.pool, v.appointment_id, status, v.clock.now())
    await store.record_visit(v.pool, v.appointment_id, record, v.clock.now())
    return RedirectResponse(f"/visits/{v.appointment_id}", 303)


@router.post("/visits/{appointment_id}/discharge", summary="Discharge: close monitoring, record the session")
async def discharge(
    v: VisitDep,
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
    ready_at: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """``ready_at``: when the patient would have been ready to leave (a time today, no later than
    now; the REMS form's own field, kept in ``visit_records``). Left empty, the form shows the end of
    monitoring."""
    ready = rems_form.time_today(ready_at, v.clock.now(), v.c.zone) if ready_at.strip() else None
    if ready_at.strip() and ready is None:
        refusal = {"action": "discharge", "field": "ready_at", "rule": "ready_at"}
        refusal["sentence"] = "Ready to leave: a time today, not later than now."
        return await _render(v, refusal, 422)
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
    if ready is not None:
        record["ready_to_leave_at"] = ready.isoformat()
    path = f"/appointments/{v.appointment_id}/session"
    return await _act(v, path, body, "discharged", record)


@router.post(
    "/visits/{appointment_id}/checks/blood-pressure",
    summary="Record the 40-minute blood-pressure check (the console's own record: who and when kept)",
)
async def blood_pressure_check(
    v: VisitDep,
    systolic: Annotated[int, Form()],
    diastolic: Annotated[int, Form()],
    taken_at: Annotated[str, Form(max_length=8)],
) -> Response:
    """Scheduling has no endpoint for a monitoring check's vitals, so this is stored in the console's
    ``visit_records`` (``bp_40min``: the values, when taken, who recorded it and when) and fills the
    REMS form's "Blood pressure about 40 minutes after dosing". A clinician's, during monitoring (after
    the dose, before discharge); a later record replaces an earlier one."""
    appt, c, who = await v.appointment(), v.c, v.who
    now = v.clock.now()
    taken = rems_form.time_today(taken_at, now, c.zone)
    problem, status = "", 422
    if not who.holds(Role.CLINICIAN):
        problem, status = "Your role may not do this: a clinician records the monitoring checks.", 403
    elif appt["status"] not in MONITORING:
        problem, status = "The 40-minute blood pressure is recorded during monitoring (after the dose).", 409
    elif not (50 <= systolic <= 260 and 30 <= diastolic <= 160 and diastolic < systolic):
        problem = "Enter systolic 50–260 and diastolic 30–160 mmHg, the systolic higher."
    elif taken is None:
        problem = "The time taken must be a time today, not later than now."
    elif taken < appt["status_at"].astimezone(c.zone).replace(second=0, microsecond=0):
        problem = f"The time taken is before the dose ({local(appt['status_at'], c.zone)})."
    if problem:
        refusal = {"action": "blood-pressure-check", "field": "bp40", "rule": "", "sentence": problem}
        return await _render(v, refusal, status)
    assert taken is not None
    check = {"systolic": systolic, "diastolic": diastolic, "taken_at": taken.isoformat()}
    check.update(recorded_by=who.subject, recorded_at=now.isoformat())
    await store.record_visit(v.pool, v.appointment_id, {"bp_40min": check}, now)
    return RedirectResponse(f"/visits/{v.appointment_id}", 303)


@router.get("/visits/{appointment_id}/rems", summary="The visit's REMS Patient Monitoring Form, filled")
async def rems(v: VisitDep) -> Response:
    appt, pool, c = await v.appointment(), v.pool, v.c
    appointment_id = v.appointment_id
    session = await store.session_of(pool, appointment_id)
    patient = f"{appt['given_name'] or ''} {appt['family_name'] or ''}".strip() or "(name pending)"
    record = await store.visit_record(pool, appointment_id)
    born = await store.date_of_birth(pool, appt["patient_id"])
    rows = rems_form.form(patient, born, record, session, c.zone)
    days = load_protocols().get(session["protocol_version"]).dosing.rems_form_due_days if session else None
    today = v.clock.now().astimezone(c.zone).date()
    due = rems_form.filing_due(session, days, today, c.zone) if days else None
    filed = await postgres_rems.filing(pool, appointment_id)
    context = {"appt": appt, "rows": rows, "due": due, "session": session, "filed": filed, "zone": c.zone}
    return v.page("rems.html", **context)


@router.post("/visits/{appointment_id}/rems/filed", summary="The REMS form was filed (who and when kept)")
async def rems_filed(appointment_id: UUID, pool: PoolDep, clock: ClockDep, who: StaffDep) -> Response:
    await postgres_rems.mark_filed(pool, appointment_id, who.subject, clock.now())
    return RedirectResponse(f"/visits/{appointment_id}/rems", 303)
