"""Today's board, a course (timeline, live, and the plan of doses), open alerts."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ..adapters import postgres_read_model as store
from ..domain import rules
from ..domain.board import timeline_line
from ..service_layer.sessions import Staff
from .web import ClockDep, Console, ConsoleDep, PoolDep, StaffDep, page

router = APIRouter(tags=["pages"])


@router.get("/", summary="Today's board")
async def today(request: Request, c: ConsoleDep, pool: PoolDep, clock: ClockDep, who: StaffDep) -> Response:
    day = clock.now().astimezone(c.zone).date()
    start = datetime.combine(day, time(), c.zone)
    rows = await store.day_board(pool, start, start + timedelta(days=1))
    by_clinician: dict[str, list[Any]] = {}
    by_room: dict[str, list[Any]] = {}
    for r in rows:
        by_clinician.setdefault(r["clinician_id"], []).append(r)
        by_room.setdefault(r["room_id"] or "no room", []).append(r)
    context = {"day": day, "by_clinician": by_clinician, "by_room": by_room, "zone": c.zone}
    context["now"] = clock.now()
    return page(request, "today.html", who, **context)  # type: ignore[no-any-return]


@router.get("/courses/{course_id}", summary="A course: its timeline and plan of doses")
async def course(request: Request, course_id: UUID, c: ConsoleDep, pool: PoolDep, who: StaffDep) -> Response:
    return await _course_page(request, course_id, c, pool, who, "")


async def _course_page(
    request: Request, course_id: UUID, c: Console, pool: Any, who: Staff, halt_refusal: str
) -> Response:
    plan = await c.services.call(who.access_token, "GET", "scheduling", f"/courses/{course_id}")
    phase = await c.services.call(who.access_token, "GET", "intake", f"/courses/{course_id}")
    patient = await store.course_patient(pool, course_id)
    context = {
        "course_id": course_id,
        "patient": patient,
        "plan": plan.body if plan.ok else None,
        "plan_refusal": None if plan.ok else plan.refusal()[2],
        "phase": phase.body if phase.ok else None,
        "halt_refusal": halt_refusal,
        "timeline": await _timeline(pool, course_id),
        "zone": c.zone,
    }
    return page(request, "course.html", who, **context)  # type: ignore[no-any-return]


@router.post("/courses/{course_id}/urgent-review", summary="Resolve a halted course: resume or end")
async def resolve_halt(
    request: Request,
    course_id: UUID,
    c: ConsoleDep,
    pool: PoolDep,
    who: StaffDep,
    decision: Annotated[Literal["resume", "end"], Form()],
) -> Response:
    path = f"/courses/{course_id}/urgent-review/resolve"
    answer = await c.services.act(who.access_token, who.subject, "intake", path, {"decision": decision})
    if answer.ok:
        return RedirectResponse(f"/courses/{course_id}", 303)
    _, rule, words = answer.refusal()
    resp = await _course_page(request, course_id, c, pool, who, rules.sentence(rule, words))
    resp.status_code = answer.status
    return resp


@router.get("/courses/{course_id}/timeline", summary="The timeline alone (htmx polls it)")
async def timeline(
    request: Request, course_id: UUID, c: ConsoleDep, pool: PoolDep, who: StaffDep
) -> Response:
    context = {"course_id": course_id, "timeline": await _timeline(pool, course_id), "zone": c.zone}
    return page(request, "_timeline.html", who, **context)  # type: ignore[no-any-return]


async def _timeline(pool: Any, course_id: UUID) -> list[dict[str, Any]]:
    rows = await store.timeline(pool, course_id)
    return [{"at": r["occurred_at"], "line": timeline_line(r["type"], json.loads(r["data"]))} for r in rows]


@router.get("/alerts", summary="Open alerts, urgent first")
async def alerts(request: Request, c: ConsoleDep, pool: PoolDep, clock: ClockDep, who: StaffDep) -> Response:
    resolved = await store.recently_resolved(pool, clock.now() - timedelta(days=1))
    context = {"alerts": await store.open_alerts(pool), "resolved": resolved, "zone": c.zone}
    return page(request, "alerts.html", who, **context)  # type: ignore[no-any-return]


@router.post("/alerts/{event_id}/{action}", summary="Acknowledge or resolve an alert (who and when kept)")
async def act(event_id: str, action: str, pool: PoolDep, clock: ClockDep, who: StaffDep) -> Response:
    if action in ("acknowledge", "resolve"):
        await store.act_on_alert(pool, event_id, action, who.subject, clock.now())
    return RedirectResponse("/alerts", 303)
