"""Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
``{webhook-id}.{webhook-timestamp}.{body}``, base64, sent as ``v1,<signature>``.

Used both ways: outbound pushes to integrators are signed; inbound provider callbacks and
inbound texts must carry a valid signature within the timestamp tolerance.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta


class SignatureError(Exception):
    """The request is not authentic (missing headers, bad signature, or outside the tolerance)."""


def secret_bytes(secret: str) -> bytes:
    """``whsec_<base64>`` secrets are decoded; any other string is used as UTF-8 bytes."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: datetime, tolerance: timedelta) -> str:
    """Return the verified ``webhook-id``, or raise SignatureError."""
    message_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (message_id and stamp and signatures):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not an integer") from exc
    if abs(now.timestamp() - timestamp) > tolerance.total_seconds():
        raise SignatureError("webhook-timestamp outside the tolerance")
    expected = sign(secret, message_id, timestamp, body)
    # compare_digest refuses non-ASCII str (TypeError, a 500): such a signature is simply not valid
    if not any(s.isascii() and hmac.compare_digest(expected, s) for s in signatures.split()):
        raise SignatureError("no valid signature")
    return message_id
