"""A template is plain text with ``{fact}`` placeholders, one per notification × audience × channel
× locale, versioned. Rendering adds the recipient-local forms of every time fact."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ..sms import to_gsm7
from . import formatting
from .ics import calendar_attachment

CalendarMethod = Literal["REQUEST", "CANCEL"]


class TemplateError(Exception):
    """A template names a fact the message does not have (a bug: the delivery fails permanently)."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    mime_type: str
    content: bytes


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    attachment: Attachment | None = None


@dataclass(frozen=True)
class RenderEnv:
    """What a message knows about where it goes: recipient zone and the clinic's public details."""

    locale: str
    time_zone: str
    portal_url: str
    console_url: str
    clinic_phone: str
    sender: str
    organizer: str
    given_name: str = ""


@dataclass(frozen=True)
class Template:
    notification: str
    audience: str
    channel: str
    locale: str
    version: int
    body: str
    subject: str = ""
    calendar: CalendarMethod | None = None

    @property
    def family(self) -> str:
        """Template identity without the locale (used in idempotency keys)."""
        return f"{self.notification}.{self.audience}.{self.channel}"

    @property
    def id(self) -> str:
        return f"{self.family}.{self.locale}"

    def render(self, facts: Mapping[str, str], env: RenderEnv) -> Rendered:
        context = formatting.context(facts, env)
        try:
            subject = self.subject.format_map(context)
            text = self.body.format_map(context)
        except (KeyError, IndexError, ValueError) as exc:
            raise TemplateError(f"{self.id} v{self.version}: {exc!r}") from exc
        if self.channel == "sms":
            text = to_gsm7(text)
        attachment = None
        if self.calendar and "starts_at" in facts:
            content = calendar_attachment(self.calendar, facts, env, summary=context["calendar_summary"])
            attachment = Attachment("appointment.ics", "text/calendar", content)
        return Rendered(subject, text, attachment)
