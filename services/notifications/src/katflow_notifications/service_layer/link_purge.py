"""Expired page links are deleted: a link that expired more than ``portal_link_keep_days`` ago
(turned off or not) is gone, with the patient id it held. Until then its message's one-click
unsubscribe keeps working. A worker of the notifications process: a pass at start, then hourly."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
import structlog

from katflow_shared.clock import Clock
from katflow_shared.messaging.errors import TRANSIENT_TYPES

from ..adapters import postgres_portal as store
from ..settings import NotificationsSettings

log = structlog.get_logger()
BATCH = 1000


class LinkPurge:
    def __init__(
        self, pool: asyncpg.Pool, clock: Clock, settings: NotificationsSettings, every: float = 3600.0
    ) -> None:
        self.pool, self.clock, self.settings, self.every = pool, clock, settings, every
        self._stop = asyncio.Event()

    async def purge(self) -> int:
        """One pass: every link past its keeping time, in batches; how many were deleted."""
        before = self.clock.now() - timedelta(days=self.settings.portal_link_keep_days)
        total = 0
        while (deleted := await store.purge(self.pool, before, BATCH)) > 0:
            total += deleted
        if total:
            log.info("portal_links_purged", count=total)
        return total

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.purge()
            except TRANSIENT_TYPES as exc:  # the next pass tries again
                log.warning("portal_links_purge_retry", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.every)

    async def stop(self) -> None:
        self._stop.set()
