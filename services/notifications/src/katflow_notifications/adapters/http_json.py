"""HTTP status → error class, shared by the SMS provider and the webhook adapters."""

from __future__ import annotations

import httpx

from ..ports import ChannelPermanent, ChannelTransient


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


def raise_for_status(response: httpx.Response, prefix: str) -> None:
    """2xx passes; 408/425/429/5xx are transient; any other status is permanent."""
    status = response.status_code
    if 200 <= status < 300:
        return
    code = f"{prefix}_{status}"
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("code"), str | int):
            code = f"{code}_{body['code']}"
    except ValueError:
        pass
    if status in (408, 425, 429) or status >= 500:
        raise ChannelTransient(code, retry_after(response))
    raise ChannelPermanent(code)


async def post(client: httpx.AsyncClient, url: str, prefix: str, **kwargs: object) -> httpx.Response:
    try:
        response = await client.post(url, **kwargs)  # type: ignore[arg-type]
    except httpx.TimeoutException as exc:
        raise ChannelTransient(f"{prefix}_timeout") from exc
    except httpx.TransportError as exc:
        raise ChannelTransient(f"{prefix}_{type(exc).__name__}") from exc
    raise_for_status(response, prefix)
    return response
