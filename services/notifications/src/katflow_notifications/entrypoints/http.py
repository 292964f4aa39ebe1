"""notifications' HTTP API: delivery history of a patient or a course (no contact details)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from katflow_shared import audit, pagination
from katflow_shared.auth import admits
from katflow_shared.http import PoolDep
from katflow_shared.roles import CARE_TEAM

from ..adapters import postgres_history as store

router = APIRouter(prefix="/v1", tags=["deliveries"], dependencies=[admits(*CARE_TEAM)])


class AttemptOut(BaseModel):
    attempt: int
    attempted_at: datetime
    outcome: str = Field(description="accepted, transient or permanent.")
    error_code: str | None
    provider_id: str | None


class DeliveryOut(BaseModel):
    id: UUID
    event_id: UUID
    course_id: UUID | None
    patient_id: UUID | None
    staff_id: str | None
    audience: str
    notification: str
    channel: str
    template_id: str
    template_version: int
    locale: str
    status: str = Field(description="queued, sending, sent, delivered, failed, suppressed or cancelled.")
    reason: str | None = Field(description="Why it was suppressed, deferred, cancelled or failed.")
    attempts: int
    last_error: str | None
    provider_id: str | None
    fallback_of: UUID | None = Field(description="The delivery this one falls back from.")
    urgent: bool
    automated: bool
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    attempt_log: list[AttemptOut] = Field(default_factory=list)


async def _with_attempts(pool: asyncpg.Pool, rows: list[asyncpg.Record]) -> list[DeliveryOut]:
    attempts: dict[UUID, list[AttemptOut]] = {}
    for a in await store.attempts_of(pool, [r["id"] for r in rows]):
        attempts.setdefault(a["delivery_id"], []).append(
            AttemptOut(**{k: a[k] for k in AttemptOut.model_fields})
        )
    return [DeliveryOut(**dict(r), attempt_log=attempts.get(r["id"], [])) for r in rows]


PAGINATED = (
    "Oldest first; paginated: `limit` (at most 200) and the `X-Next-Cursor` of the page before as `cursor`."
)


def _page(
    rows: list[asyncpg.Record], limit: int, request: Request, response: pagination.PageResponse
) -> list[asyncpg.Record]:
    """One page of deliveries; its audit record names every patient and course the page carries."""
    shown = pagination.page(rows, limit, response, lambda r: (r["created_at"], r["id"]))
    audit.read(request, patients=(r["patient_id"] for r in shown), courses=(r["course_id"] for r in shown))
    return shown


# a course's or a patient's deliveries, a page of them (store.course_history, store.patient_history)
History = Callable[[asyncpg.Pool, UUID, store.After, int | None], Awaitable[list[asyncpg.Record]]]


async def _deliveries(
    pool: asyncpg.Pool,
    history: History,
    owner_id: UUID,
    request: Request,
    response: pagination.PageResponse,
    limit: int,
    cursor: str | None,
) -> list[DeliveryOut]:
    """One page of a course's or a patient's deliveries, each with its attempts."""
    after = pagination.decode(cursor, UUID)
    rows = _page(await history(pool, owner_id, after, limit + 1), limit, request, response)
    return await _with_attempts(pool, rows)


@router.get(
    "/courses/{course_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="Every message queued, sent or withheld for a course, with its attempts",
    description=PAGINATED,
    responses=pagination.PAGINATED,
)
async def course_deliveries(
    course_id: UUID,
    pool: PoolDep,
    request: Request,
    response: pagination.PageResponse,
    limit: pagination.Limit = pagination.MAX_LIMIT,
    cursor: pagination.Cursor = None,
) -> list[DeliveryOut]:
    return await _deliveries(pool, store.course_history, course_id, request, response, limit, cursor)


@router.get(
    "/patients/{patient_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="Every message queued, sent or withheld for a patient, with its attempts",
    description=PAGINATED,
    responses=pagination.PAGINATED,
)
async def patient_deliveries(
    patient_id: UUID,
    pool: PoolDep,
    request: Request,
    response: pagination.PageResponse,
    limit: pagination.Limit = pagination.MAX_LIMIT,
    cursor: pagination.Cursor = None,
) -> list[DeliveryOut]:
    return await _deliveries(pool, store.patient_history, patient_id, request, response, limit, cursor)
