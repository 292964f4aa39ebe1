"""What happens after a delivery is settled: its state, NotificationSent/NotificationFailed through
the outbox (same transaction), and the fallback to the next channel or a staff task.

A failed or withheld delivery is settled in the caller's unit of work (``failed``, ``suppressed``).
A sent one is settled together with the deliveries accepted meanwhile, in a unit of work of their
own (``Settler``): ``sent`` builds its audit record and NotificationSent for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from katflow_shared import audit
from katflow_shared.contracts import NotificationFailed, NotificationSent
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.unit_of_work import UnitOfWork, Units

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

    async def sent(self, units: Units, d: Delivery, receipt: Receipt, now: datetime) -> None:
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
            announced = self.emitter.envelope(event, None)
        audited = self._entry(d, "sent", receipt.provider_id)
        await self.settler.settle(units, Accepted(d.id, receipt, now, audited, announced))

    async def failed(self, uow: UnitOfWork, d: Delivery, code: str) -> bool:
        """The delivery failed (``code``): its chain falls back or is announced as failed. False when
        it was settled already (a callback, another replica)."""
        return await self._unsent(uow, d, st.FAILED, code)

    async def suppressed(self, uow: UnitOfWork, d: Delivery, reason: str) -> bool:
        """Policy withheld the delivery: the next channel of its chain is tried."""
        return await self._unsent(uow, d, st.SUPPRESSED, reason)

    async def _unsent(self, uow: UnitOfWork, d: Delivery, status: str, why: str) -> bool:
        if not await store.finish_unsent(uow.conn, d.id, status, why, uow.now):
            return False
        uow.audit(self._entry(d, status, None, why))
        await self._fall_back(uow, d, why if status == st.FAILED else None)
        return True

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

    async def _fall_back(self, uow: UnitOfWork, d: Delivery, failure: str | None) -> None:
        """After ``d`` failed (``failure``: its error) or was withheld (None): a patient's message tries
        the next channel of its chain. When none is left and a delivery of the chain *failed* (a chain
        merely suppressed by policy is not a failure), the coordinator gets a task. NotificationFailed
        is emitted once per message that reached nobody, never for a failure a fallback recovered."""
        if d.audience != "patient" or d.exempt:  # no chain: a failure is final
            if failure is not None and d.audience != "integrator":
                self._announce(uow, d, (d.id, d.channel, d.template_id, failure))
            return
        channel = next_channel(lookup(d.notification, "patient"), d.channel)
        if channel is not None:
            self.planner.fall_back(uow, d, channel)
            return
        last = (d.id, d.channel, d.template_id, failure) if failure is not None else None
        if last is None:
            row = await store.chain_failure(uow.conn, d.event_id, d.patient_id, d.notification)
            last = (row["id"], row["channel"], row["template_id"], row["last_error"]) if row else None
        if last is not None:
            self.planner.staff_task(uow, d, last[3])
            self._announce(uow, d, last)

    def _announce(self, uow: UnitOfWork, d: Delivery, failed: tuple[UUID, str, str, str]) -> None:
        """NotificationFailed for the chain's failed delivery: (id, channel, template, error)."""
        delivery_id, channel, template_id, code = failed
        event = NotificationFailed(
            delivery_id=delivery_id,
            course_id=d.course_id,
            channel=channel,
            template_id=template_id,
            error_code=code,
            failed_at=uow.now,
        )
        uow.emit(event)
