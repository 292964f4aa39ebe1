"""intake's public HTTP API: the consultation request form."""

from __future__ import annotations

import hashlib
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import BaseModel

from katflow_shared.auth import Principal, Unauthenticated, authenticator
from katflow_shared.ratelimit import RATE_LIMITED_RESPONSES, public_rate_limit
from katflow_shared.runtime import UnitsDep

from ..challenge import public_form_challenge
from ..domain.consultation import ConsultationRequestIn
from ..service_layer.consultation import FormLimited, request_consultation
from .deps import FormRulesDep

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
    "and emits ConsultationRequested. Send an Idempotency-Key header to make retries safe: a key is "
    "the caller's (its credential's, or without one the request's: the same body again). Public (no "
    "credentials needed), so rate-limited per client address; anonymous requests are also limited per "
    "email address or phone number and in total (429) and must meet a configured captcha or proof of "
    "work (403). Phone numbers must carry one of the clinic's country codes (422). Credentials, when "
    "sent, must be valid (401): a credentialed caller (an integrator) is audited, not limited.",
    dependencies=[public_rate_limit()],
    responses={**RATE_LIMITED_RESPONSES, 403: {"description": "The form's captcha or proof of work failed."}},
)
async def submit(
    body: ConsultationRequestIn,
    units: UnitsDep,
    rules: FormRulesDep,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> ConsultationAccepted:
    caller = await _caller(request)
    if caller is None:
        await public_form_challenge(request)
    idempotency = (_scope(caller, body), idempotency_key) if idempotency_key else None
    try:
        ids = await request_consultation(units, rules, body, idempotency, caller)
    except FormLimited as exc:
        raise HTTPException(429, str(exc), {"Retry-After": str(exc.retry_after)}) from exc
    return ConsultationAccepted(
        consultation_request_id=ids.consultation_request_id,
        patient_id=ids.patient_id,
        course_id=ids.course_id,
    )


async def _caller(request: Request) -> Principal | None:
    """The credential's holder, None without one; a credential that fails is a 401 (never taken for
    an anonymous caller, who is limited)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        try:
            return await authenticator(request).authenticate(token)
        except Unauthenticated as exc:
            raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"}) from exc
    return None


def _scope(caller: Principal | None, body: ConsultationRequestIn) -> str:
    """Whose Idempotency-Key it is: the credential's (how it was proved and whose), or for an
    anonymous caller the request itself (a retry sends the same body; someone else's request under
    the same key is their own)."""
    if caller is not None:
        return f"{caller.method}:{caller.subject}"
    return "anonymous:" + hashlib.sha256(body.model_dump_json().encode()).hexdigest()
