"""Consent per channel: off until given; the newest capture wins; an SMS opt-out binds the number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Consent:
    granted: bool
    captured_at: datetime | None = None
    method: str | None = None

    @classmethod
    def none(cls) -> Consent:
        return cls(False)


def newest(current: Consent, incoming: Consent) -> Consent:
    """Keep whichever consent was captured last (an undated one never overrides a dated one). The
    contact upsert applies this rule in SQL (consent_is_newer, migration 007); an integration test
    holds the two together."""
    if incoming.captured_at is None:
        return current if current.captured_at is not None else incoming
    if current.captured_at is None or incoming.captured_at > current.captured_at:
        return incoming
    return current


def sms_permitted(consent: Consent, phone: str | None, opted_out_at: datetime | None) -> bool:
    """Texts need a number, granted consent, and no opt-out of that number after the consent."""
    if not (consent.granted and phone):
        return False
    if opted_out_at is None:
        return True
    return consent.captured_at is not None and consent.captured_at > opted_out_at


def email_permitted(consent: Consent, email: str | None) -> bool:
    return consent.granted and bool(email)
