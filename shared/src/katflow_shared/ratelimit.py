"""Rate limiting for public (unauthenticated) endpoints: a token bucket per client IP.

The limit is per process (``KATFLOW_PUBLIC_RATE_LIMIT_PER_MINUTE``); with N replicas a client gets
at most N times that. The client is the connection's peer; behind an ingress, the address that one
of ``KATFLOW_TRUSTED_PROXIES`` put in X-Forwarded-For (``client_address``, docs/security.md): uvicorn
itself does not read forwarded headers (serve.py).
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import structlog
from fastapi import Depends, HTTPException, Request
from fastapi.params import Depends as DependsParam
from pydantic import IPvAnyNetwork

log = structlog.get_logger()


class RateLimiter:
    """``per_minute`` requests per key, in bursts of up to ``per_minute``; remembers ``max_keys``."""

    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 50_000
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def retry_after(self, key: str) -> float | None:
        """Take one token for ``key``; None when allowed, else seconds until the next token."""
        now = self.clock()
        tokens, stamp = self._buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)  # the least recently seen client
        return None if allowed else (1.0 - tokens) / self.rate


def _limiter(request: Request) -> RateLimiter:
    found: RateLimiter | None = getattr(request.app.state, "katflow_rate_limiter", None)
    if found is None:
        per_minute = request.app.state.runtime.settings.public_rate_limit_per_minute
        found = request.app.state.katflow_rate_limiter = RateLimiter(per_minute)
    return found


def client_address(request: Request, trusted: Sequence[IPvAnyNetwork]) -> str:
    """The peer's address, unless the peer is a trusted proxy: then the right-most address in
    X-Forwarded-For that is not itself trusted (the one the outermost trusted proxy saw). A client
    can prepend to the header but not append to it, so what it writes there is never used."""
    peer = request.client.host if request.client else "unknown"
    if not _within(peer, trusted):
        return peer
    hops = [a.strip() for v in request.headers.getlist("x-forwarded-for") for a in v.split(",") if a.strip()]
    return next((a for a in reversed(hops) if not _within(a, trusted)), hops[0] if hops else peer)


def _within(address: str, networks: Sequence[IPvAnyNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


async def _public_rate_limit(request: Request) -> None:
    client = client_address(request, request.app.state.runtime.settings.trusted_proxies)
    wait = _limiter(request).retry_after(client)
    if wait is not None:
        log.warning("rate_limited", path=request.url.path)
        raise HTTPException(429, "too many requests; retry later", {"Retry-After": str(int(wait) + 1)})


def public_rate_limit() -> DependsParam:
    """For ``dependencies=[...]`` of a public endpoint: 429 past the per-IP limit."""
    result: DependsParam = Depends(_public_rate_limit)
    return result


RATE_LIMITED_RESPONSES: dict[int | str, dict[str, str]] = {
    429: {"description": "Too many requests from this address; retry after `Retry-After` seconds."}
}
