"""Inbound texts (STOP/START/HELP) and provider status callbacks, after their signature was checked:
each in one unit of work, with the webhook's id recorded first (a replayed webhook changes nothing)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from katflow_shared.unit_of_work import UnitOfWork, Units

from ..adapters import postgres_queue as queue
from ..adapters import postgres_recipients as recipients
from ..adapters import postgres_status_reports as reports
from ..domain import status as st
from ..domain.intents import Intent
from ..domain.keywords import Keyword, classify, normalise
from .outcomes import Outcomes
from .planning import Planner

INBOUND_EVENTS = uuid.UUID("0b8f5f0e-4c1e-4d57-9d0c-6f3f0b6a9e21")
REPLIES = {
    Keyword.OPT_OUT: "sms_opt_out_confirmation",
    Keyword.OPT_IN: "sms_opt_in_confirmation",
    Keyword.HELP: "sms_help",
}
Duplicate = Literal["duplicate"]  # the webhook was handled before
# What a status callback did: the state the delivery reached, or why it did not move ("duplicate",
# "unknown_delivery", "ignored").
Reported = str


@dataclass(frozen=True)
class InboundTexts:
    planner: Planner
    # False where the provider answers the keywords itself (Twilio's default opt-out handling, which
    # also blocks texts to a number that sent STOP): consent is recorded and staff are told, but
    # katflow sends no reply of its own (it would be a second one, or refused after STOP).
    replies: bool = True

    async def receive(self, units: Units, webhook_id: str, phone: str, text: str) -> Keyword | Duplicate:
        """An inbound text: the keyword it carried, or "duplicate" for a replayed webhook."""
        async with units.start() as uow:
            if not await recipients.first_webhook(uow.conn, webhook_id, "sms_inbound", uow.now):
                return "duplicate"
            return await self.handle(uow, webhook_id, phone, text)

    async def handle(self, uow: UnitOfWork, webhook_id: str, phone: str, text: str) -> Keyword:
        keyword = classify(text)
        await recipients.record_inbound_sms(uow.conn, webhook_id, phone, keyword.value, uow.now)
        if keyword == Keyword.OTHER:
            return keyword
        patients = await recipients.patients_with_phone(uow.conn, phone)
        event_id = uuid.uuid5(INBOUND_EVENTS, webhook_id)
        if keyword in (Keyword.OPT_OUT, Keyword.OPT_IN):
            await recipients.set_sms_consent(
                uow.conn, phone, keyword == Keyword.OPT_IN, normalise(text), uow.now
            )
        if self.replies:
            reply = Intent(REPLIES[keyword], "patient", None, patients[0] if patients else None)
            self.planner.plan(uow, reply, event_id, address=phone)
        if keyword == Keyword.OPT_OUT:
            for patient in patients:
                facts = {"patient_id": str(patient), "keyword": normalise(text)}
                notice = Intent("patient_opted_out", "staff", None, None, None, facts)
                self.planner.plan(uow, notice, uuid.uuid5(INBOUND_EVENTS, f"{webhook_id}:{patient}"))
        return keyword


@dataclass(frozen=True)
class StatusReport:
    """A provider's delivered/failed callback about a message it was given."""

    webhook_id: str
    provider_id: str | None
    reference: str | None  # our delivery id, where the provider echoes it
    reported: str
    error_code: str | None


async def status_report(units: Units, outcomes: Outcomes, report: StatusReport) -> Reported:
    """Apply ``report`` once (a replayed webhook is "duplicate")."""
    async with units.start() as uow:
        if not await recipients.first_webhook(uow.conn, report.webhook_id, "sms_status", uow.now):
            return "duplicate"
        return await apply_status_report(uow, outcomes, report)


async def apply_status_report(uow: UnitOfWork, outcomes: Outcomes, report: StatusReport) -> Reported:
    """Apply a provider's delivered/failed callback; returns the state reached (or why not)."""
    row = await reports.lock_by_provider(uow.conn, report.provider_id, report.reference)
    if row is None:
        return "unknown_delivery"
    reported, error_code = report.reported, report.error_code
    target = st.callback_transition(row["status"], reported)
    await reports.record_status_report(uow.conn, row["id"], reported, error_code, target is not None, uow.now)
    if target == st.DELIVERED:
        await reports.mark_delivered(uow.conn, row["id"], report.provider_id, uow.now)
    elif target == st.FAILED:
        delivery = await queue.load(uow.conn, row["id"])
        await outcomes.failed(uow, delivery, f"sms_{error_code or reported.lower()}")
    return target or "ignored"
