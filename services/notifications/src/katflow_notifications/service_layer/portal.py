"""The patient's page: who a link lets in, the second factor, what the page shows, the calendar file
and channel preferences. Every view is an audit record of the patient's own access; nothing here
logs a token, a name or a contact detail. What the page changes, emits and audits is one unit of
work per action (an audit record alone, or a request and its record: one statement)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import asyncpg

from katflow_shared import audit
from katflow_shared.auth import Principal
from katflow_shared.clock import Clock
from katflow_shared.contracts import AppointmentChangeRequested, ChangeRequest, Event, ReadinessConfirmed
from katflow_shared.treatment_protocols import ProtocolBook
from katflow_shared.unit_of_work import Units

from ..adapters import postgres_portal as store
from ..adapters import postgres_recipients as recipients
from ..domain.intents import Intent
from ..domain.portal import factor, links
from ..domain.portal.page import Page, page, readiness_open
from ..domain.portal.wording import language
from ..domain.templates import RenderEnv
from ..domain.templates.formatting import CALENDAR_SUMMARY
from ..domain.templates.ics import calendar_attachment
from ..settings import NotificationsSettings
from .planning import Planner

SERVICE = "notifications"
ANONYMOUS = Principal("anonymous:portal-link", frozenset(), "anonymous")
PREFERENCE_EVENTS = uuid.UUID("5d0c7a1e-7d43-4f0e-9f3b-3a1f6c2b9e10")
Refusal = Literal["unknown", "expired", "revoked"]


def patient_principal(patient_id: uuid.UUID) -> Principal:
    """The patient themselves, admitted by a signed link and the second factor."""
    return Principal(f"patient:{patient_id}", frozenset(), "signature")


@dataclass(frozen=True)
class Access:
    link: store.LinkRow
    holder: store.Holder


@dataclass(frozen=True)
class Shown:
    holder: store.Holder
    page: Page
    lang: str  # the language the page speaks to them


@dataclass(frozen=True)
class PatientPage:
    units: Units
    settings: NotificationsSettings
    protocols: ProtocolBook | None
    planner: Planner

    @property
    def pool(self) -> asyncpg.Pool:  # where the page reads
        return self.units.pool

    @property
    def clock(self) -> Clock:
        return self.units.clock

    @property
    def secret(self) -> bytes:
        return self.settings.portal_link_secret.get_secret_value().encode()

    # ---------------------------------------------------------------- who is let in

    async def link(self, token: str) -> store.LinkRow | Refusal:
        now = self.clock.now()
        try:
            verified = links.verify(self.secret, token, now)
        except links.LinkExpired:
            return "expired"
        except links.LinkRefused:
            return "unknown"
        row = await store.link(self.pool, verified.link_id)
        if row is None:
            return "unknown"
        if row.revoked_at is not None:
            return "revoked"
        return "expired" if row.expires_at <= now else row

    async def access(self, token: str, session: str | None) -> Access | Refusal | None:
        """The patient behind a link whose second factor this browser passed; None: not passed."""
        row = await self.link(token)
        if isinstance(row, str):
            return row
        try:
            opened = links.verify(self.secret, session or "", self.clock.now(), purpose="session")
        except links.LinkRefused:
            return None
        if opened.link_id != row.link_id:
            return None
        holder = await store.holder(self.pool, row.patient_id)
        return Access(row, holder) if holder else "unknown"

    async def confirm(self, token: str, answer: str) -> str | Refusal | Literal["wrong"]:
        """Check the second factor: a session cookie's value when right; a wrong answer counts, and
        the link is revoked after factor.MAX_FAILED_ATTEMPTS."""
        row = await self.link(token)
        if isinstance(row, str):
            return row
        holder = await store.holder(self.pool, row.patient_id)
        now = self.clock.now()
        if holder is not None and factor.matches(answer, holder.date_of_birth):
            await self._audit(row.patient_id, "portal.second_factor", "ok")
            until = min(row.expires_at, now + timedelta(minutes=self.settings.portal_session_minutes))
            return links.sign(self.secret, row.link_id, until, purpose="session")
        async with self.units.start() as uow:
            failed = await store.failed_attempt(uow.conn, row.link_id)
            if factor.locks_after(failed):
                uow.write([store.revoked_row(row.link_id, "too_many_attempts", now)])
            detail = {"failed_attempts": failed}
            uow.audit(_entry(row.patient_id, "portal.second_factor", "denied", detail=detail, who=ANONYMOUS))
        return "revoked" if factor.locks_after(failed) else "wrong"

    # ---------------------------------------------------------------- what the page does

    async def show(self, a: Access) -> Shown:
        rows = await store.appointments(self.pool, a.holder.patient_id)
        versions = await store.protocols(self.pool, sorted({r.course_id for r in rows}))
        instructions = {c: self._instructions(v) for c, v in versions.items()}
        lang = self.language(a.holder)
        shown = page(rows, a.holder.time_zone, self.clock.now(), instructions, lang)
        await self._audit(a.holder.patient_id, "portal.view", "ok")
        return Shown(a.holder, shown, lang)

    def language(self, holder: store.Holder) -> str:
        """The patient's chosen language, else the clinic's."""
        return language(holder.locale or self.settings.default_locale)

    def _instructions(self, version: str) -> Mapping[str, str]:
        try:
            return self.protocols.get(version).instructions.model_dump() if self.protocols else {}
        except KeyError:
            return {}

    async def calendar(self, a: Access, appointment_id: uuid.UUID) -> bytes | None:
        row = await store.appointment(self.pool, a.holder.patient_id, appointment_id)
        if row is None:
            return None
        facts = {
            "appointment_id": str(row["appointment_id"]),
            "sequence": str(int(row["updated_at"].timestamp())),
            "created_at": row["updated_at"].isoformat(),
            "starts_at": row["starts_at"].isoformat(),
            "ends_at": row["ends_at"].isoformat(),
        }
        cancelled = row["status"] == "cancelled"
        await self._audit(a.holder.patient_id, "portal.calendar", "ok", {"appointment_id": appointment_id})
        lang = self.language(a.holder)
        return calendar_attachment(
            "CANCEL" if cancelled else "REQUEST", facts, self._env(lang), CALENDAR_SUMMARY[lang]
        )

    def _env(self, lang: str) -> RenderEnv:
        s = self.settings
        return RenderEnv(
            lang,
            s.clinic_time_zone,
            s.portal_url,
            s.staff_console_url,
            s.clinic_phone,
            s.sender_name,
            s.mail_from,
        )

    async def unsubscribe(self, token: str) -> bool:
        """RFC 8058 one-click: the message's own link stops optional messages (surveys). Works for
        as long as the token is genuine (expired or turned off too: unsubscribing discloses nothing
        and must keep working); no second factor, no confirmation step."""
        try:
            found = links.genuine(self.secret, token)
        except links.LinkRefused:
            return False
        row = await store.link(self.pool, found.link_id)
        if row is None:
            return False
        async with self.units.start() as uow:
            await store.set_optional_messages(uow.conn, row.patient_id, False, uow.now)
            uow.audit(_entry(row.patient_id, "portal.unsubscribe", detail={"optional_messages": False}))
        return True

    async def preferences(
        self, a: Access, email: bool, sms: bool, optional: bool = True, locale: str | None = None
    ) -> None:
        """Consent per channel, at once: the dispatcher reads it when it sends. Texts go through the
        same path as an SMS STOP/START (the number's opt-out and every patient on it), and an opt-out
        tells the care team as a STOP does. ``locale``: their language (a page language), from the
        next message sent, queued ones too."""
        h = a.holder
        async with self.units.start() as uow:
            conn, now = uow.conn, uow.now
            phone = await store.phone_of(conn, h.patient_id)
            if sms != h.sms_consent and phone:
                keyword = "START" if sms else "STOP"
                await recipients.set_sms_consent(conn, phone, sms, keyword, now, method="portal")
                if not sms:
                    facts = {"patient_id": str(h.patient_id), "keyword": "texts off on their page"}
                    notice = Intent("patient_opted_out", "staff", None, None, None, facts)
                    self.planner.plan(uow, notice, uuid.uuid4())
            if email != h.email_consent:
                await store.set_email_consent(conn, h.patient_id, email, now)
            if optional != h.optional_messages:
                await store.set_optional_messages(conn, h.patient_id, optional, now)
            changes: dict[str, object] = {"email": email, "sms": sms, "optional_messages": optional}
            if locale is not None and locale != h.locale:
                await store.set_locale(conn, h.patient_id, locale)
                changes["locale"] = locale
            uow.audit(_entry(h.patient_id, "portal.preferences", detail=changes))

    async def request_change(self, a: Access, appointment_id: uuid.UUID, change: ChangeRequest) -> bool:
        """A reschedule or cancellation request for staff (an event); False: not the patient's own
        upcoming appointment."""
        row = await store.appointment(self.pool, a.holder.patient_id, appointment_id)
        if row is None or row["status"] != "scheduled":
            return False
        event = AppointmentChangeRequested(
            appointment_id=appointment_id,
            course_id=row["course_id"],
            patient_id=a.holder.patient_id,
            change=change,
            requested_at=self.clock.now(),
        )
        await self._emit(a, event, f"portal.request_{change.value}", appointment_id)
        return True

    async def confirm_ready(self, a: Access, appointment_id: uuid.UUID, ride: bool, fasting: bool) -> bool:
        """Morning-of readiness for a dosing visit the patient has today (their zone)."""
        row = await store.appointment(self.pool, a.holder.patient_id, appointment_id)
        now = self.clock.now()
        if row is None or not readiness_open(
            row["kind"], row["status"], row["starts_at"], a.holder.time_zone, now
        ):
            return False
        event = ReadinessConfirmed(
            appointment_id=appointment_id,
            course_id=row["course_id"],
            patient_id=a.holder.patient_id,
            ride_home=ride,
            fasting=fasting,
            confirmed_at=self.clock.now(),
        )
        await self._emit(a, event, "portal.readiness", appointment_id)
        return True

    async def _emit(self, a: Access, event: Event, action: str, appointment_id: uuid.UUID) -> None:
        """The patient's request for staff and its audit record: one statement."""
        async with self.units.start(one_statement=True) as uow:
            uow.emit(event)
            uow.audit(_entry(a.holder.patient_id, action, resource={"appointment_id": appointment_id}))

    async def revoke(self, a: Access) -> None:
        """The patient turns their link off: the link and the audit record in one statement."""
        async with self.units.start(one_statement=True) as uow:
            uow.write([store.revoked_row(a.link.link_id, "revoked_by_patient", uow.now)])
            uow.audit(_entry(a.holder.patient_id, "portal.revoke"))

    async def refused(self, action: str, reason: str) -> None:
        async with self.units.start(one_statement=True) as uow:
            uow.audit(audit.entry(SERVICE, ANONYMOUS, action, outcome="denied", detail={"reason": reason}))

    async def _audit(
        self,
        patient_id: uuid.UUID,
        action: str,
        outcome: audit.Outcome,
        resource: Mapping[str, Any] | None = None,
    ) -> None:
        """An audit record of the patient's own access, on its own (one statement)."""
        async with self.units.start(one_statement=True) as uow:
            uow.audit(_entry(patient_id, action, outcome, resource))


def _entry(
    patient_id: uuid.UUID,
    action: str,
    outcome: audit.Outcome = "ok",
    resource: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
    who: Principal | None = None,
) -> tuple[object, ...]:
    """An audit record about the patient (by themselves, unless ``who``)."""
    return audit.entry(
        SERVICE,
        who or patient_principal(patient_id),
        action,
        patient_id=patient_id,
        outcome=outcome,
        resource=resource,
        detail=detail,
    )
