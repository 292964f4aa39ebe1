"""Serve a service's app with uvicorn (SIGTERM → graceful lifespan shutdown).

On uvloop's event loop and httptools' HTTP parser: the services spend most of their CPU in the
event loop (Kafka, PostgreSQL and SMTP sockets), where uvloop costs less than asyncio's own loop
(docs/benchmarks.md).
"""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from .settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    uvicorn.run(
        app,
        host=settings.http_host,
        loop="uvloop",
        http="httptools",
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # the client address is resolved by ratelimit.client_address, not from any peer
        timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
    )
