"""The waitlist (scheduling's, read as the person) and the patients search (the read model)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..adapters import postgres_read_model as store
from .web import ConsoleDep, PoolDep, StaffDep, page

router = APIRouter(tags=["lists"])


@router.get("/waitlist", summary="Bookings waiting for a slot, longest waiting first")
async def waitlist(request: Request, c: ConsoleDep, who: StaffDep) -> Response:
    answer = await c.services.call(who.access_token, "GET", "scheduling", "/waitlist")
    refusal = None if answer.ok else answer.refusal()[2]
    context = {"waiting": answer.body if answer.ok else [], "refusal": refusal}
    return page(request, "waitlist.html", who, zone=c.zone, **context)  # type: ignore[no-any-return]


@router.get("/patients", summary="Patients by name (and date of birth), with their courses")
async def patients(
    request: Request, pool: PoolDep, who: StaffDep, name: str = "", born: date | None = None
) -> Response:
    found = await store.find_patients(pool, name.strip(), born) if name.strip() else []
    return page(request, "patients.html", who, query=name, born=born, found=found)  # type: ignore[no-any-return]
