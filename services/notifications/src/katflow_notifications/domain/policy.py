"""Whether, when and where a delivery may go now: consent, quiet hours, frequency caps, content.

Pure: the dispatcher resolves the recipient into a ``Target`` and applies the ``Decision``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .caps import FrequencyCap
from .quiet_hours import QuietHours
from .sms import fits_one_sms
from .templates import Rendered
from .wording import forbidden_terms


@dataclass(frozen=True)
class Target:
    """Where a delivery would go and whether the recipient allows it (resolved at send time)."""

    address: str | None
    time_zone: str
    permitted: bool
    refusal: str = "no_consent"


@dataclass(frozen=True)
class Traits:
    audience: str
    channel: str
    urgent: bool = False
    automated: bool = False
    exempt: bool = False


@dataclass(frozen=True)
class Send:
    address: str


@dataclass(frozen=True)
class Defer:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Suppress:
    reason: str


Decision = Send | Defer | Suppress


@dataclass(frozen=True)
class Policy:
    quiet: QuietHours
    quiet_channels: frozenset[str]
    cap: FrequencyCap
    sms_max_chars: int = 160

    def decide(self, traits: Traits, target: Target, now: datetime, sms_sent: Sequence[datetime]) -> Decision:
        if not target.address:
            return Suppress("no_address" if target.permitted else target.refusal)
        if traits.exempt:
            return Send(target.address)  # a reply to the text the number just sent us
        if not target.permitted:
            return Suppress(target.refusal)
        if (
            not traits.urgent
            and traits.channel in self.quiet_channels
            and self.quiet.contains(now, target.time_zone)
        ):
            return Defer(self.quiet.defer(now, target.time_zone), "quiet_hours")
        if self.capped(traits) and not self.cap.allows(sms_sent, now, target.time_zone):
            return Suppress("frequency_cap")
        return Send(target.address)

    @staticmethod
    def capped(traits: Traits) -> bool:
        return traits.audience == "patient" and traits.channel == "sms" and traits.automated

    def content_problem(self, traits: Traits, rendered: Rendered) -> str | None:
        """PHI-minimal wording and the one-segment limit for anything a patient receives."""
        if traits.audience != "patient":
            return None
        if traits.channel == "sms":
            if forbidden_terms(rendered.text):
                return "phi_wording"
            if not fits_one_sms(rendered.text, self.sms_max_chars):
                return "sms_too_long"
        if traits.channel == "email" and forbidden_terms(rendered.subject):
            return "phi_wording"
        return None
