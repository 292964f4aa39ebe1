"""What happens after a delivery is settled: its state, NotificationSent/NotificationFailed through
the outbox (same transaction), and the fallback to the next channel or a staff task."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared import audit
from katflow_shared.contracts import NotificationFailed, NotificationSent
from katflow_shared.messaging.emitter import Emitter

from ..adapters import postgres_outcomes as store
from ..adapters.postgres_settle import Accepted
from ..domain import status as st
from ..domain.catalogue import lookup, next_channel
from ..domain.deliveries import Delivery
from ..ports import Receipt
from .planning import Planner
from .settling import Settler


@dataclass(frozen=True)
class Outcomes:
    planner: Planner
    emitter: Emitter
    settler: Settler = field(default_factory=Settler)

    async def sent(self, pool: asyncpg.Pool, d: Delivery, receipt: Receipt, now: datetime) -> None:
        """The delivery is settled as sent, with the attempt, its audit record, NotificationSent (not
        for integrator webhooks, which are themselves the integrator's copy) and the channel's own
        writes (a staff feed item), in one statement and transaction of its own — shared with the
        deliveries accepted meanwhile (``Settler``)."""
        announced = None
        if d.audience != "integrator":
            event = NotificationSent(
                delivery_id=d.id,
                course_id=d.course_id,
                channel=d.channel,
                template_id=d.template_id,
                template_version=d.template_version,
                sent_at=now,
            )
            announced = self.emitter.outbox_values(event)
        audited = self._entry(d, "sent", receipt.provider_id)
        await self.settler.settle(pool, Accepted(d.id, receipt, now, audited, announced), self.emitter.wake)

    async def failed(self, conn: asyncpg.Connection, d: Delivery, code: str, now: datetime) -> None:
        if await store.finish_unsent(conn, d.id, st.FAILED, code, now):
            await self._audit(conn, d, "failed", None, code)
            await self._fall_back(conn, d, code, now)

    async def suppressed(self, conn: asyncpg.Connection, d: Delivery, reason: str, now: datetime) -> None:
        if await store.finish_unsent(conn, d.id, st.SUPPRESSED, reason, now):
            await self._audit(conn, d, "suppressed", None, reason)
            await self._fall_back(conn, d, None, now)

    async def _audit(
        self, conn: asyncpg.Connection, d: Delivery, status: str, provider_id: str | None, reason: str = ""
    ) -> None:
        await audit.record(conn, self._entry(d, status, provider_id, reason))

    def _entry(self, d: Delivery, status: str, provider_id: str | None, reason: str = "") -> tuple[Any, ...]:
        """Every outbound message leaves an audit record: ids and codes, never the address or text."""
        detail = {
            "channel": d.channel,
            "template_id": d.template_id,
            "template_version": d.template_version,
            "audience": d.audience,
            "recipient": str(d.patient_id or d.staff_id or ""),
            "provider_id": provider_id,
            "status": status,
            "reason": reason or None,
        }
        return audit.entry(
            self.emitter.settings.service_name,
            None,
            f"message.{status}",
            patient_id=d.patient_id,
            course_id=d.course_id,
            resource={"delivery_id": d.id, "event_id": d.event_id},
            outcome="ok" if status == "sent" else "rejected",
            detail=detail,
        )

    async def _fall_back(
        self, conn: asyncpg.Connection, d: Delivery, failure: str | None, now: datetime
    ) -> None:
        """After ``d`` failed (``failure``: its error) or was withheld (None): a patient's message tries
        the next channel of its chain. When none is left and a delivery of the chain *failed* (a chain
        merely suppressed by policy is not a failure), the coordinator gets a task. NotificationFailed
        is emitted once per message that reached nobody, never for a failure a fallback recovered."""
        if d.audience != "patient" or d.exempt:  # no chain: a failure is final
            if failure is not None and d.audience != "integrator":
                await self._announce(conn, d, (d.id, d.channel, d.template_id, failure), now)
            return
        channel = next_channel(lookup(d.notification, "patient"), d.channel)
        if channel is not None:
            await self.planner.fall_back(conn, d, channel)
            return
        last = (d.id, d.channel, d.template_id, failure) if failure is not None else None
        if last is None:
            row = await store.chain_failure(conn, d.event_id, d.patient_id, d.notification)
            last = (row["id"], row["channel"], row["template_id"], row["last_error"]) if row else None
        if last is not None:
            await self.planner.staff_task(conn, d, last[3])
            await self._announce(conn, d, last, now)

    async def _announce(
        self, conn: asyncpg.Connection, d: Delivery, failed: tuple[UUID, str, str, str], now: datetime
    ) -> None:
        """NotificationFailed for the chain's failed delivery: (id, channel, template, error)."""
        delivery_id, channel, template_id, code = failed
        event = NotificationFailed(
            delivery_id=delivery_id,
            course_id=d.course_id,
            channel=channel,
            template_id=template_id,
            error_code=code,
            failed_at=now,
        )
        await self.emitter.emit(conn, event)
