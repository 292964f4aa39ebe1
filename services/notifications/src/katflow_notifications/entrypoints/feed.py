"""The in-app staff feed: a list, a read mark, and a live stream (server-sent events).

A feed is its staff member's own: the caller's subject is the ``staff_id`` in the path (one id
space: token subject = staff directory id = scheduling's clinician id). An admin may read, never
mark, another's feed; every such read is in the audit trail (the HTTP record names the caller and
the ``staff_id`` read). Anyone else gets 403.

Every read names the patients and courses of the items it carried: a list in its request's record,
a live stream in one record per batch it sent (a stream outlives its request's record).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from katflow_shared import audit
from katflow_shared.auth import Principal, PrincipalDep, admits
from katflow_shared.roles import CARE_TEAM, Role
from katflow_shared.runtime import Runtime, RuntimeDep

from ..adapters import postgres_feed as feed
from ..adapters import postgres_staff as staff
from .deps import DepsDep

router = APIRouter(prefix="/v1/staff", tags=["staff feed"], dependencies=[admits(*CARE_TEAM, Role.ADMIN)])
HEARTBEAT_SECONDS = 15.0
MAX_ID = 2**63 - 1  # feed item ids are bigints
ITEM_ID = re.compile(r"[0-9]{1,18}")  # what a Last-Event-ID the stream sent looks like (< MAX_ID)
STREAM_SENT = "feed.stream.sent"  # the audit action of items a live stream sent


class FeedItem(BaseModel):
    id: int
    notification: str
    title: str
    body: str
    urgent: bool
    course_id: UUID | None
    patient_id: UUID | None
    created_at: datetime
    read_at: datetime | None


async def _known(runtime: Runtime, deps: DepsDep, staff_id: str) -> None:
    """In the staff directory (its file, or known from scheduling's ClinicianUpdated)."""
    if await staff.member(runtime.pool, deps.planner.staff, staff_id) is None:
        raise HTTPException(404, "unknown staff member")


async def _may_read(runtime: Runtime, principal: Principal, deps: DepsDep, staff_id: str) -> None:
    """Your own feed; an admin may read anyone's (the request's audit record says whose)."""
    if staff_id != principal.subject and Role.ADMIN not in principal.roles:
        raise HTTPException(403, "this is another staff member's feed")
    await _known(runtime, deps, staff_id)


async def _may_mark(runtime: Runtime, principal: Principal, deps: DepsDep, staff_id: str) -> None:
    """Only your own items: an admin reading another's feed leaves it unread for them."""
    if staff_id != principal.subject:
        raise HTTPException(403, "this is another staff member's feed")
    await _known(runtime, deps, staff_id)


@router.get("/{staff_id}/feed", response_model=list[FeedItem], summary="Feed items after an id")
async def list_feed(
    staff_id: str,
    request: Request,
    runtime: RuntimeDep,
    deps: DepsDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[FeedItem]:
    await _may_read(runtime, principal, deps, staff_id)
    rows = await feed.items_after(runtime.pool, staff_id, after)
    audit.read(request, patients=(r["patient_id"] for r in rows), courses=(r["course_id"] for r in rows))
    return [FeedItem(**dict(r)) for r in rows]


@router.post("/{staff_id}/feed/{item_id}/read", status_code=204, summary="Mark a feed item read")
async def read_item(
    staff_id: str, item_id: int, runtime: RuntimeDep, deps: DepsDep, principal: PrincipalDep
) -> None:
    await _may_mark(runtime, principal, deps, staff_id)
    if not await feed.mark_read(runtime.pool, staff_id, item_id, runtime.clock.now()):
        raise HTTPException(404, "no such feed item")


@router.get(
    "/{staff_id}/feed/stream",
    summary="Live feed (text/event-stream); resumes after Last-Event-ID",
    response_class=StreamingResponse,
)
async def stream_feed(
    staff_id: str,
    request: Request,
    runtime: RuntimeDep,
    deps: DepsDep,
    principal: PrincipalDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
) -> StreamingResponse:
    await _may_read(runtime, principal, deps, staff_id)
    if after is None and last_event_id and not ITEM_ID.fullmatch(last_event_id):
        raise HTTPException(400, "Last-Event-ID is not a feed item id")
    start = after if after is not None else int(last_event_id or 0)
    settings = deps.settings

    async def events() -> AsyncIterator[str]:
        cursor, began, beat = start, time.monotonic(), time.monotonic()
        yield "retry: 2000\n\n"
        while time.monotonic() - began < settings.feed_stream_max_seconds:
            if await request.is_disconnected():
                return
            rows = await feed.items_after(runtime.pool, staff_id, cursor)
            if rows:
                async with runtime.units.start(one_statement=True) as uow:
                    uow.audit(_sent(settings.service_name, principal, staff_id, rows))
            for row in rows:
                cursor = row["id"]
                item = FeedItem(**dict(row)).model_dump(mode="json")
                yield f"id: {cursor}\nevent: notification\ndata: {json.dumps(item)}\n\n"
            if time.monotonic() - beat > HEARTBEAT_SECONDS:
                beat = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(settings.feed_poll_seconds)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


def _sent(service: str, principal: Principal, staff_id: str, rows: list[Any]) -> tuple[Any, ...]:
    """The audit record of items a live stream is about to send: whose, and about which patients."""
    return audit.entry(
        service,
        principal,
        STREAM_SENT,
        resource={"staff_id": staff_id, "items": [r["id"] for r in rows]},
        patient_ids=(r["patient_id"] for r in rows if r["patient_id"] is not None),
        course_ids=(r["course_id"] for r in rows if r["course_id"] is not None),
    )
