"""scheduling's appointments API: a course's appointments, for the care team."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from katflow_shared.auth import admits
from katflow_shared.http import PoolDep
from katflow_shared.roles import CARE_TEAM

from ..adapters import postgres_appointments as appointments

router = APIRouter(prefix="/v1", tags=["appointments"], dependencies=[admits(*CARE_TEAM)])


class AppointmentOut(BaseModel):
    id: UUID
    course_id: UUID
    kind: str
    clinician_id: str
    room_id: str | None
    starts_at: datetime
    ends_at: datetime
    status: str


@router.get(
    "/courses/{course_id}/appointments",
    response_model=list[AppointmentOut],
    summary="A course's appointments, in time order",
)
async def course_appointments(course_id: UUID, pool: PoolDep) -> list[AppointmentOut]:
    return [AppointmentOut(**dict(r)) for r in await appointments.of_course(pool, course_id)]
