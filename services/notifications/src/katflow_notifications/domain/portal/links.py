"""Signed, expiring portal links. A token is opaque: base64url of a random link id (8 bytes), its
expiry (4 bytes, Unix seconds) and an HMAC-SHA256 tag (12 bytes) over both. It names no patient,
appointment or message; the link id finds the link's row, which says whose it is and whether it
was revoked. The signature lets a forged or expired token be refused without a database read."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

LINK_ID_BYTES = 8
TAG_BYTES = 12
CONTEXT = b"katflow-portal-link.v1|"


class LinkRefused(Exception):
    """The token is not one of ours (malformed or forged). Says nothing more to the visitor."""


class LinkExpired(LinkRefused):
    """A genuine token whose time is up."""


@dataclass(frozen=True)
class LinkToken:
    link_id: bytes
    expires_at: datetime


def new_link_id() -> bytes:
    return secrets.token_bytes(LINK_ID_BYTES)


def _tag(secret: bytes, purpose: str, payload: bytes) -> bytes:
    content = CONTEXT + purpose.encode() + b"|" + payload
    return hmac.new(secret, content, hashlib.sha256).digest()[:TAG_BYTES]


def sign(secret: bytes, link_id: bytes, expires_at: datetime, purpose: str = "link") -> str:
    """``purpose`` separates the URL's token ("link") from the session cookie set once the second
    factor passed ("session"): one is never accepted as the other."""
    if len(link_id) != LINK_ID_BYTES:
        raise ValueError("link id must be 8 bytes")
    payload = link_id + int(expires_at.timestamp()).to_bytes(4, "big")
    return base64.urlsafe_b64encode(payload + _tag(secret, purpose, payload)).decode().rstrip("=")


def verify(secret: bytes, token: str, now: datetime, purpose: str = "link") -> LinkToken:
    """The token's link id and expiry, or LinkRefused / LinkExpired."""
    found = genuine(secret, token, purpose)
    if now >= found.expires_at:
        raise LinkExpired("expired")
    return found


def genuine(secret: bytes, token: str, purpose: str = "link") -> LinkToken:
    """The token's link id and expiry if we signed it, expired or not (one-click unsubscribe keeps
    working after the page link expired), or LinkRefused."""
    if len(token) != 32 or not token.isascii():
        raise LinkRefused("malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise LinkRefused("malformed") from exc
    payload, tag = raw[: LINK_ID_BYTES + 4], raw[LINK_ID_BYTES + 4 :]
    if not hmac.compare_digest(tag, _tag(secret, purpose, payload)):
        raise LinkRefused("bad signature")
    expires_at = datetime.fromtimestamp(int.from_bytes(payload[LINK_ID_BYTES:], "big"), UTC)
    return LinkToken(payload[:LINK_ID_BYTES], expires_at)
