"""Capped exponential backoff for transient channel errors."""

from __future__ import annotations


def retry_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait after the ``attempt``-th failed try (1-based); a provider's Retry-After
    is honoured when longer, and the cap always applies."""
    delay = base * 2.0 ** max(0, attempt - 1)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(cap, delay)
