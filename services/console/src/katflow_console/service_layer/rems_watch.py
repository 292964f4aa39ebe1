"""Escalates REMS monitoring forms not yet filed, KATFLOW_CONSOLE_REMS_ESCALATE_DAYS before their day."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from zoneinfo import ZoneInfo

from katflow_shared.runtime import Runtime

from ..adapters import postgres_rems
from ..settings import ConsoleSettings


class RemsWatch:
    def __init__(self, runtime: Runtime, zone: ZoneInfo, settings: ConsoleSettings) -> None:
        self.runtime, self.zone = runtime, zone
        self.days, self.every = settings.console_rems_escalate_days, settings.console_rems_watch_seconds
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            now = self.runtime.clock.now()
            by = now.astimezone(self.zone).date() + timedelta(days=self.days)
            await postgres_rems.escalate_due(self.runtime.pool, by, now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.every)

    async def stop(self) -> None:
        self._stopping.set()
