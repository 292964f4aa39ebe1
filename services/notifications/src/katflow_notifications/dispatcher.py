"""Sends due deliveries: consent checked, rendered, handed to the channel, retried with backoff.

A delivery is claimed under a lease (status 'sending'), so a crashed dispatcher's work returns to
the queue. The one window left is a crash after the SMTP server accepted a message and before it
was marked sent: that message is sent again with the same Message-ID (see docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import asyncpg
import structlog

from katflow_shared.messaging.errors import TRANSIENT_TYPES, PermanentError, TransientError
from katflow_shared.runtime import Runtime

from .adapters import postgres_deliveries as store
from .adapters.smtp_email import SmtpEmail
from .domain.staff import StaffDirectory
from .domain.templates import TEMPLATES
from .settings import NotificationsSettings

log = structlog.get_logger()


class Dispatcher:
    def __init__(self, runtime: Runtime, settings: NotificationsSettings, staff: StaffDirectory) -> None:
        self.runtime = runtime
        self.settings = settings
        self.staff = {m.id: m for m in staff.staff}
        self.email = SmtpEmail(settings)
        self._stopping = False

    async def run(self) -> None:
        while not self._stopping:
            try:
                sent = await self.dispatch_once()
            except TRANSIENT_TYPES as exc:
                log.warning("dispatcher_retry", error=type(exc).__name__)
                sent = 0
                await asyncio.sleep(1)
            if sent == 0:
                await asyncio.sleep(self.settings.dispatch_poll_seconds)

    async def stop(self) -> None:
        self._stopping = True

    async def dispatch_once(self, limit: int = 20) -> int:
        now = self.runtime.clock.now()
        lease = timedelta(seconds=self.settings.delivery_lease_seconds)
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            rows = await store.claim_due(conn, now, lease, limit)
        await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _deliver(self, row: asyncpg.Record) -> None:
        pool = self.runtime.pool
        address = self._address(row)
        if address is None:
            await store.mark(pool, row["id"], "suppressed", error="no consented address for channel")
            return
        context: dict[str, Any] = json.loads(row["context"])
        context.update(
            given_name=row["given_name"] or "",
            time_zone=row["time_zone"] or "UTC",
            portal_url=self.settings.portal_url,
        )
        rendered = TEMPLATES[row["template_id"]].render(context)
        try:
            provider_id = await self.email.send(address, rendered, str(row["id"]))
        except (TransientError, PermanentError) as exc:
            await self._failed(row, exc)
            return
        await store.mark(pool, row["id"], "sent", provider_id=provider_id)
        log.info("delivery_sent", delivery_id=str(row["id"]), template=row["template_id"])

    def _address(self, row: asyncpg.Record) -> str | None:
        if row["audience"] == "staff":
            member = self.staff.get(row["staff_id"])
            return str(member.email) if member else None
        return row["email"] if row["email_consent"] and row["email"] else None

    async def _failed(self, row: asyncpg.Record, exc: Exception) -> None:
        permanent = isinstance(exc, PermanentError) or row["attempts"] >= self.settings.delivery_max_attempts
        retry_at = self.runtime.clock.now() + timedelta(seconds=min(300, 2 ** row["attempts"]))
        await store.mark(
            self.runtime.pool,
            row["id"],
            "failed" if permanent else "queued",
            error=str(exc),
            retry_at=None if permanent else retry_at,
        )
        log.warning(
            "delivery_attempt_failed", delivery_id=str(row["id"]), error=str(exc), permanent=permanent
        )
