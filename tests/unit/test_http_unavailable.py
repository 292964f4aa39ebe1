"""A dependency hiccup answers 503 with Retry-After, never a bare 500: the HTTP layer maps every
error the consumers retry as transient (messaging.errors), including asyncpg's InternalClientError
(a pooled connection PostgreSQL told, while idle, that it is shutting down)."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from fastapi import APIRouter

from katflow_shared.messaging.errors import TRANSIENT_TYPES, classify
from katflow_shared.runtime import ServiceSpec, create_app
from katflow_shared.settings import ServiceSettings

ERRORS: list[BaseException] = [
    asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    *(kind("simulated") for kind in TRANSIENT_TYPES),
]


def failing_app(error: BaseException) -> httpx.AsyncClient:
    router = APIRouter()

    @router.post("/v1/fail")
    async def fail() -> None:
        raise error

    settings = ServiceSettings(
        environment="test", service_name="t", database_url="postgresql://t@127.0.0.1/t"
    )
    app = create_app(ServiceSpec(settings=settings, migrations=[], routers=[router]))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
async def test_a_transient_error_is_503_with_retry_after(error: BaseException) -> None:
    assert classify(error) == "transient"  # what a consumer would retry
    async with failing_app(error) as http:
        resp = await http.post("/v1/fail")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "1"
    assert resp.json() == {"detail": "temporarily unavailable, retry shortly"}
