"""Delivery states: queued → sending → sent (provider accepted) → delivered / failed (callback).

``suppressed`` (policy said no) and ``cancelled`` (the reason went away) end a delivery unsent.
"""

from __future__ import annotations

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
DELIVERED = "delivered"
FAILED = "failed"
SUPPRESSED = "suppressed"
CANCELLED = "cancelled"

TERMINAL = frozenset({DELIVERED, FAILED, SUPPRESSED, CANCELLED})

# Provider status words mapped to ours (callbacks may say more than we track).
PROVIDER_STATUS = {
    "queued": None,
    "accepted": SENT,
    "sending": SENT,
    "sent": SENT,
    "delivered": DELIVERED,
    "undelivered": FAILED,
    "failed": FAILED,
    "rejected": FAILED,
    "expired": FAILED,
}


def callback_transition(current: str, reported: str) -> str | None:
    """The state a provider callback moves a delivery to, or None when it changes nothing.

    A callback can overtake our own 'sent' mark (it may arrive while we are still 'sending'), and
    it never moves a delivery out of a terminal state.
    """
    target = PROVIDER_STATUS.get(reported.lower())
    if target is None or current in TERMINAL or current == QUEUED:
        return None
    if target == SENT:
        return SENT if current == SENDING else None
    return target
