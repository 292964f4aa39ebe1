"""Inbound texts (STOP/START/HELP) and provider status callbacks, after their signature was checked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

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


@dataclass(frozen=True)
class InboundTexts:
    planner: Planner
    # False where the provider answers the keywords itself (Twilio's default opt-out handling, which
    # also blocks texts to a number that sent STOP): consent is recorded and staff are told, but
    # katflow sends no reply of its own (it would be a second one, or refused after STOP).
    replies: bool = True

    async def handle(
        self, conn: asyncpg.Connection, webhook_id: str, phone: str, text: str, now: datetime
    ) -> Keyword:
        keyword = classify(text)
        await recipients.record_inbound_sms(conn, webhook_id, phone, keyword.value, now)
        if keyword == Keyword.OTHER:
            return keyword
        patients = await recipients.patients_with_phone(conn, phone)
        event_id = uuid.uuid5(INBOUND_EVENTS, webhook_id)
        if keyword in (Keyword.OPT_OUT, Keyword.OPT_IN):
            await recipients.set_sms_consent(conn, phone, keyword == Keyword.OPT_IN, normalise(text), now)
        if self.replies:
            reply = Intent(REPLIES[keyword], "patient", None, patients[0] if patients else None)
            await self.planner.plan(conn, reply, event_id, address=phone)
        if keyword == Keyword.OPT_OUT:
            for patient in patients:
                facts = {"patient_id": str(patient), "keyword": normalise(text)}
                notice = Intent("patient_opted_out", "staff", None, None, None, facts)
                await self.planner.plan(conn, notice, uuid.uuid5(INBOUND_EVENTS, f"{webhook_id}:{patient}"))
        return keyword


async def apply_status_report(
    conn: asyncpg.Connection,
    outcomes: Outcomes,
    provider_id: str | None,
    reference: str | None,
    reported: str,
    error_code: str | None,
    now: datetime,
) -> str:
    """Apply a provider's delivered/failed callback; returns the state reached (or why not)."""
    row = await reports.lock_by_provider(conn, provider_id, reference)
    if row is None:
        return "unknown_delivery"
    target = st.callback_transition(row["status"], reported)
    await reports.record_status_report(conn, row["id"], reported, error_code, target is not None, now)
    if target == st.DELIVERED:
        await reports.mark_delivered(conn, row["id"], provider_id, now)
    elif target == st.FAILED:
        delivery = await queue.load(conn, row["id"])
        await outcomes.failed(conn, delivery, f"sms_{error_code or reported.lower()}", now)
    return target or "ignored"
