"""/healthz (process alive), /readyz (database and broker reachable) and /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .messaging import metrics

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process is serving")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database and Kafka reachable")
async def readyz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    checks: dict[str, Any] = {}
    try:
        async with asyncio.timeout(2):
            await runtime.pool.fetchval("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        async with asyncio.timeout(3):
            await runtime.producer.client.fetch_all_metadata()
        checks["kafka"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        checks["kafka"] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def prometheus(request: Request) -> Response:
    runtime = request.app.state.runtime
    try:
        row = await runtime.pool.fetchrow(
            "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age"
            " FROM outbox WHERE published_at IS NULL"
        )
        metrics.OUTBOX_BACKLOG.set(row["n"])
        metrics.OUTBOX_OLDEST_AGE.set(float(row["age"] or 0))
        for refresh in request.app.state.scrape:
            await refresh(runtime.pool)
    except Exception:  # noqa: S110 - metrics must render even when the database is down
        pass
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
