"""Resolve a delivery's recipient into an address, a time zone and a consent verdict (at send time,
so a STOP or a withdrawn consent after queueing still stops the message)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ..adapters import postgres_staff as staff
from ..domain.catalogue import lookup
from ..domain.consent import Consent, email_permitted, sms_permitted
from ..domain.deliveries import Delivery
from ..domain.policy import Target
from ..domain.staff import StaffDirectory, StaffMember
from ..domain.templates import RenderEnv
from ..settings import NotificationsSettings


@dataclass(frozen=True)
class TargetResolver:
    staff: StaffDirectory
    settings: NotificationsSettings

    async def resolve(self, db: asyncpg.Connection | asyncpg.Pool, d: Delivery) -> Target:
        """A staff member is looked up in the staff directory (``postgres_staff.member``)."""
        if d.audience == "staff":
            return await self._staff(db, d)
        if d.audience == "integrator":
            known = any(e.id == d.address for e in self.settings.integrator_webhooks)
            return Target(d.address if known else None, "UTC", known, "integrator_not_configured")
        return self._patient(d)

    def _patient(self, d: Delivery) -> Target:
        r = d.recipient
        zone = r.get("time_zone") or self.settings.clinic_time_zone
        if r.get("patient_id") is None and d.address is None:
            return Target(None, zone, False, "no_contact_details")
        if r.get("optional_opted_out_at") is not None and lookup(d.notification, "patient").optional:
            return Target(None, zone, False, "unsubscribed")  # every channel: suppressed, no staff task
        if d.channel == "email":
            consent = Consent(bool(r.get("email_consent")), r.get("email_consent_at"))
            return Target(r.get("email"), zone, email_permitted(consent, r.get("email")), "no_email_consent")
        if d.channel == "sms":
            phone = d.address or r.get("phone")
            consent = Consent(bool(r.get("sms_consent")), r.get("sms_consent_at"))
            opted_out = r.get("sms_opted_out_at")
            refusal = "opted_out" if opted_out is not None else "no_sms_consent"
            return Target(phone, zone, sms_permitted(consent, phone, opted_out), refusal)
        return Target(None, zone, False, "unsupported_channel")

    async def _staff(self, db: asyncpg.Connection | asyncpg.Pool, d: Delivery) -> Target:
        zone = self.settings.clinic_time_zone
        if d.channel == "staff_webhook":
            known = d.staff_id in self.settings.staff_webhook_urls
            return Target(d.staff_id if known else None, zone, known, "staff_webhook_not_configured")
        member = await staff.member(db, self.staff, d.staff_id) if d.staff_id else None
        if member is None or not member.reaches(d.channel):  # a feed-only member: no address
            return Target(None, zone, False, "unknown_staff_member")
        zone = member.time_zone or zone
        address = member.id
        if d.channel == "email" and isinstance(member, StaffMember):
            address = str(member.email)
        return Target(address, zone, True)

    def render_env(self, d: Delivery, target: Target) -> RenderEnv:
        s = self.settings
        return RenderEnv(
            locale=d.locale,
            time_zone=target.time_zone,
            portal_url=s.portal_url,
            console_url=s.staff_console_url,
            clinic_phone=s.clinic_phone,
            sender=s.sender_name,
            organizer=s.mail_from,
            given_name=str(d.recipient.get("given_name") or "") if d.audience == "patient" else "",
        )
