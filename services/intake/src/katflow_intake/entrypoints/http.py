"""intake's HTTP API."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from katflow_shared.http import RuntimeDep
from katflow_shared.ratelimit import RATE_LIMITED_RESPONSES, public_rate_limit

from ..domain.consultation import ConsultationRequestIn
from ..handlers.consultation import request_consultation

router = APIRouter(prefix="/v1", tags=["consultation requests"])


class ConsultationAccepted(BaseModel):
    consultation_request_id: UUID
    patient_id: UUID
    course_id: UUID
    status: str = "received"


@router.post(
    "/consultation-requests",
    status_code=202,
    response_model=ConsultationAccepted,
    summary="Submit a consultation request (the public web form)",
    description="Stores the patient, their contact consent and the request, opens a treatment course "
    "and emits ConsultationRequested. Send an Idempotency-Key header to make retries safe. Public (no "
    "credentials), so rate-limited per client address (429).",
    dependencies=[public_rate_limit()],
    responses=RATE_LIMITED_RESPONSES,
)
async def submit(
    body: ConsultationRequestIn,
    runtime: RuntimeDep,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ConsultationAccepted:
    ids = await request_consultation(
        runtime, body, request.app.state.settings.minimum_age_years, idempotency_key
    )
    return ConsultationAccepted(**ids)
