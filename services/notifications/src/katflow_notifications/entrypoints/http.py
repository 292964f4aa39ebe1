"""notifications' HTTP API: delivery history."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from katflow_shared.http import PoolDep

from ..adapters import postgres_deliveries as store

router = APIRouter(prefix="/v1", tags=["deliveries"])


class DeliveryOut(BaseModel):
    id: UUID
    course_id: UUID | None
    patient_id: UUID | None
    staff_id: str | None
    audience: str
    channel: str
    template_id: str
    template_version: int
    status: str
    attempts: int
    last_error: str | None
    provider_id: str | None
    created_at: datetime
    sent_at: datetime | None


@router.get(
    "/courses/{course_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="Every message queued or sent for a course",
)
async def course_deliveries(course_id: UUID, pool: PoolDep) -> list[DeliveryOut]:
    return [DeliveryOut(**dict(r)) for r in await store.course_history(pool, course_id)]


@router.get(
    "/patients/{patient_id}/deliveries",
    response_model=list[DeliveryOut],
    summary="Every message queued or sent for a patient",
)
async def patient_deliveries(patient_id: UUID, pool: PoolDep) -> list[DeliveryOut]:
    return [DeliveryOut(**dict(r)) for r in await store.patient_history(pool, patient_id)]
