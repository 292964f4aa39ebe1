"""Today's board, a course (timeline, live, and the plan of doses), open alerts."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from ..adapters import postgres_read_model as store
from ..domain import rules
from ..domain.board import timeline_line
from .web import Ctx, CtxDep

router = APIRouter(tags=["pages"])


@router.get("/", summary="Today's board")
async def today(p: CtxDep) -> Response:
    day = p.clock.now().astimezone(p.c.zone).date()
    start = datetime.combine(day, time(), p.c.zone)
    rows = await store.day_board(p.pool, start, start + timedelta(days=1))
    by_clinician: dict[str, list[Any]] = {}
    by_room: dict[str, list[Any]] = {}
    for r in rows:
        by_clinician.setdefault(r["clinician_id"], []).append(r)
        by_room.setdefault(r["room_id"] or "no room", []).append(r)
    context = {"day": day, "by_clinician": by_clinician, "by_room": by_room, "zone": p.c.zone}
    context["now"] = p.clock.now()
    return p.page("today.html", **context)


@router.get("/courses/{course_id}", summary="A course: its timeline and plan of doses")
async def course(course_id: UUID, p: CtxDep) -> Response:
    return await _course_page(p, course_id, "")


async def _course_page(p: Ctx, course_id: UUID, halt_refusal: str) -> Response:
    plan = await p.call("GET", "scheduling", f"/courses/{course_id}")
    phase = await p.call("GET", "intake", f"/courses/{course_id}")
    patient = await store.course_patient(p.pool, course_id)
    context = {
        "course_id": course_id,
        "patient": patient,
        "plan": plan.body if plan.ok else None,
        "plan_refusal": None if plan.ok else plan.refusal()[2],
        "phase": phase.body if phase.ok else None,
        "halt_refusal": halt_refusal,
        "timeline": await _timeline(p.pool, course_id),
        "zone": p.c.zone,
    }
    return p.page("course.html", **context)


@router.post("/courses/{course_id}/urgent-review", summary="Resolve a halted course: resume or end")
async def resolve_halt(
    course_id: UUID,
    p: CtxDep,
    decision: Annotated[Literal["resume", "end"], Form()],
) -> Response:
    path = f"/courses/{course_id}/urgent-review/resolve"
    answer = await p.c.services.act(p.who.access_token, p.who.subject, "intake", path, {"decision": decision})
    if answer.ok:
        return RedirectResponse(f"/courses/{course_id}", 303)
    _, rule, words = answer.refusal()
    resp = await _course_page(p, course_id, rules.sentence(rule, words))
    resp.status_code = answer.status
    return resp


@router.get("/courses/{course_id}/timeline", summary="The timeline alone (htmx polls it)")
async def timeline(course_id: UUID, p: CtxDep) -> Response:
    context = {"course_id": course_id, "timeline": await _timeline(p.pool, course_id), "zone": p.c.zone}
    return p.page("_timeline.html", **context)


async def _timeline(pool: Any, course_id: UUID) -> list[dict[str, Any]]:
    rows = await store.timeline(pool, course_id)
    return [{"at": r["occurred_at"], "line": timeline_line(r["type"], json.loads(r["data"]))} for r in rows]


@router.get("/alerts", summary="Open alerts, urgent first")
async def alerts(p: CtxDep) -> Response:
    resolved = await store.recently_resolved(p.pool, p.clock.now() - timedelta(days=1))
    context = {"alerts": await store.open_alerts(p.pool), "resolved": resolved, "zone": p.c.zone}
    return p.page("alerts.html", **context)


@router.post("/alerts/{event_id}/{action}", summary="Acknowledge or resolve an alert (who and when kept)")
async def act(event_id: str, action: str, p: CtxDep) -> Response:
    if action in ("acknowledge", "resolve"):
        await store.act_on_alert(p.pool, event_id, action, p.who.subject, p.clock.now())
    return RedirectResponse("/alerts", 303)
