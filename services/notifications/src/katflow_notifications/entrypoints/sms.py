"""Webhooks the SMS provider calls: delivery-status callbacks and inbound texts.

Both must be signed (Standard Webhooks headers, HMAC-SHA256 with KATFLOW_SMS_WEBHOOK_SECRET) within
the timestamp tolerance; a replayed webhook-id is answered 200 and changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from katflow_shared.auth import SMS_PROVIDER, mark_authenticated
from katflow_shared.runtime import RuntimeDep

from ..domain.keywords import Keyword
from ..domain.signing import SignatureError, verify
from ..service_layer import inbound
from ..service_layer.outcomes import Outcomes
from .deps import DepsDep, NotificationsDeps

router = APIRouter(prefix="/v1/sms", tags=["sms provider webhooks"])
M = TypeVar("M", bound=BaseModel)


class StatusReport(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(None, description="Provider message id (as returned when it was sent).")
    reference: str | None = Field(None, description="Our delivery id, echoed by the provider.")
    status: str = Field(description="delivered, failed, undelivered, sent, ...")
    error_code: str | None = Field(None, description="Provider error code, if any.")


class InboundText(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    id: str | None = Field(None, description="Provider id of the inbound message.")
    from_: str = Field(alias="from", pattern=r"^\+[1-9]\d{6,14}$", description="Sender, E.164.")
    to: str | None = Field(None, description="Our number.")
    text: str = Field(max_length=1600, description="Message text (only the keyword is kept).")


class WebhookAck(BaseModel):
    status: str


async def _verified(request: Request, deps: NotificationsDeps, model: type[M]) -> tuple[str, M]:
    """The webhook's id and its body as ``model``, once its signature is checked (401, 422)."""
    body = await request.body()
    try:
        webhook_id = verify(
            deps.settings.sms_webhook_secret.get_secret_value(),
            request.headers,
            body,
            datetime.now(UTC),  # transport freshness: the wall clock, not the workflow clock
            timedelta(seconds=deps.settings.webhook_tolerance_seconds),
        )
    except SignatureError as exc:
        raise HTTPException(401, f"webhook signature rejected: {exc}") from exc
    mark_authenticated(request, SMS_PROVIDER)  # audited as the provider (role provider_callback)
    try:
        return webhook_id, model.model_validate_json(body)
    except ValidationError as exc:
        raise HTTPException(422, exc.errors(include_url=False, include_input=False)) from exc


@router.post("/status", response_model=WebhookAck, summary="Provider delivery-status callback (signed)")
async def status_callback(request: Request, runtime: RuntimeDep, deps: DepsDep) -> WebhookAck:
    webhook_id, report = await _verified(request, deps, StatusReport)
    reported = inbound.StatusReport(webhook_id, report.id, report.reference, report.status, report.error_code)
    outcomes = Outcomes(deps.planner, runtime.emitter)
    return WebhookAck(status=await inbound.status_report(runtime.units, outcomes, reported))


@router.post("/inbound", response_model=WebhookAck, summary="Inbound text (STOP/START/HELP), signed")
async def inbound_text(request: Request, runtime: RuntimeDep, deps: DepsDep) -> WebhookAck:
    webhook_id, message = await _verified(request, deps, InboundText)
    keyword = await deps.inbound.receive(runtime.units, webhook_id, message.from_, message.text)
    return WebhookAck(status=keyword.value if isinstance(keyword, Keyword) else keyword)
