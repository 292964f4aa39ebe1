"""Background tasks never die quietly: one that fails takes the process down (SIGTERM, so the
graceful shutdown still runs) and the supervisor — Kubernetes, compose, a test — restarts it."""

from __future__ import annotations

import asyncio
import os
import signal

import structlog

log = structlog.get_logger()


def stop_process_on_failure(task: asyncio.Task[None]) -> None:
    """A done-callback for background tasks (outbox relay, consumer, partition workers, workers)."""
    if task.cancelled() or task.exception() is None:
        return
    log.critical("background_task_failed", task=task.get_name(), error=repr(task.exception()))
    os.kill(os.getpid(), signal.SIGTERM)
