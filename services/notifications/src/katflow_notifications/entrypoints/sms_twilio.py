"""Webhooks Twilio calls: message status callbacks and inbound texts (STOP/START/HELP).

Both are form-encoded POSTs signed with ``X-Twilio-Signature`` (HMAC-SHA1 of the URL Twilio called
and the sorted form parameters, keyed with the auth token), checked with the official
``twilio.request_validator.RequestValidator`` against ``KATFLOW_PUBLIC_BASE_URL`` + the path (the
URL Twilio was given, whatever proxies sit between). An unsigned or forged request is a 401 and
changes nothing. Twilio retries a webhook with the same ``I-Twilio-Idempotency-Token``; a repeat
(that token, else the message sid with its status) is answered 200 and changes nothing.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from katflow_shared.auth import SMS_PROVIDER, mark_authenticated
from katflow_shared.runtime import RuntimeDep

from ..adapters.twilio_sms import INBOUND_PATH, STATUS_PATH
from ..domain.keywords import Keyword
from ..service_layer import inbound
from ..service_layer.outcomes import Outcomes
from .deps import DepsDep, NotificationsDeps
from .sms import WebhookAck

router = APIRouter(tags=["sms provider webhooks"])
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_BODY = 16 * 1024


async def _verified(request: Request, deps: NotificationsDeps) -> dict[str, str]:
    """The form parameters of a request Twilio signed, or 401."""
    settings = deps.settings
    token = settings.twilio_auth_token.get_secret_value()
    body = await request.body()
    signature = request.headers.get("x-twilio-signature", "")
    if not token or not signature or len(body) > MAX_BODY:
        raise HTTPException(401, "webhook signature rejected")
    try:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError as exc:
        raise HTTPException(401, "webhook signature rejected") from exc
    url = settings.public_base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += f"?{request.url.query}"
    if not RequestValidator(token).validate(url, params, signature):
        raise HTTPException(401, "webhook signature rejected")
    if params.get("AccountSid") != settings.twilio_account_sid:
        raise HTTPException(401, "webhook of another account")
    mark_authenticated(request, SMS_PROVIDER)  # audited as the provider (role provider_callback)
    return params


def _sid(params: dict[str, str]) -> str:
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not SID.fullmatch(sid):
        raise HTTPException(422, "MessageSid missing or malformed")
    return sid


@router.post(STATUS_PATH, response_model=WebhookAck, summary="Twilio message status callback (signed)")
async def twilio_status(request: Request, runtime: RuntimeDep, deps: DepsDep) -> WebhookAck:
    params = await _verified(request, deps)
    sid = _sid(params)
    status = params.get("MessageStatus") or params.get("SmsStatus") or ""
    if not status or len(status) > 32:
        raise HTTPException(422, "MessageStatus missing")
    error_code = params.get("ErrorCode") or None
    webhook_id = request.headers.get("i-twilio-idempotency-token") or f"{sid}:{status}"
    report = inbound.StatusReport(f"twilio:{webhook_id}"[:200], sid, None, status, error_code)
    outcomes = Outcomes(deps.planner, runtime.emitter)
    return WebhookAck(status=await inbound.status_report(runtime.units, outcomes, report))


@router.post(INBOUND_PATH, summary="Twilio inbound text (STOP/START/HELP), signed; answers empty TwiML")
async def twilio_inbound(request: Request, runtime: RuntimeDep, deps: DepsDep) -> Response:
    """Consent keywords change SMS consent and are answered by katflow's own texts (planned like any
    notification); the TwiML answer is empty. The outcome is in ``X-Katflow-Keyword``."""
    params = await _verified(request, deps)
    sid = _sid(params)
    sender = params.get("From", "")
    if not E164.fullmatch(sender):
        raise HTTPException(422, "From is not an E.164 number")
    text = params.get("Body", "")[:1600]
    keyword = await deps.inbound.receive(runtime.units, f"twilio:{sid}", sender, text)
    outcome = keyword.value if isinstance(keyword, Keyword) else keyword
    return Response(EMPTY_TWIML, media_type="text/xml", headers={"X-Katflow-Keyword": outcome})
