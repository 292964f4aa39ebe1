"""The waitlist (scheduling's, read as the person) and the patients search (the read model)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from fastapi.responses import Response

from ..adapters import postgres_read_model as store
from .web import CtxDep

router = APIRouter(tags=["lists"])


@router.get("/waitlist", summary="Bookings waiting for a slot, longest waiting first")
async def waitlist(p: CtxDep) -> Response:
    answer = await p.call("GET", "scheduling", "/waitlist")
    refusal = None if answer.ok else answer.refusal()[2]
    context = {"waiting": answer.body if answer.ok else [], "refusal": refusal}
    return p.page("waitlist.html", zone=p.c.zone, **context)


@router.get("/patients", summary="Patients by name (and date of birth), with their courses")
async def patients(p: CtxDep, name: str = "", born: date | None = None) -> Response:
    found = await store.find_patients(p.pool, name.strip(), born) if name.strip() else []
    return p.page("patients.html", query=name, born=born, found=found)
