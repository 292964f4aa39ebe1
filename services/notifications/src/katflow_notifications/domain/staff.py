"""The staff directory and who receives which staff notification, on which channels (configuration).

Clinicians added through scheduling's admin API are known from its ClinicianUpdated events too
(``adapters.postgres_staff``): they have a feed and get their booked sessions' alerts on it; this
file stays the place for emails and rota groups, and wins when both know a person."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from katflow_shared.contracts.common import TimeZoneName


class StaffMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    display_name: str
    email: EmailStr
    roles: list[str]
    time_zone: TimeZoneName | None = Field(None, description="Zone for quiet hours (default: the clinic's).")


StaffChannel = Literal["email", "feed"]


def _email_and_feed() -> list[StaffChannel]:
    return ["email", "feed"]


class RoutingRule(BaseModel):
    """Who gets a staff notification and how. ``urgent`` adds to the catalogue's safety flag."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    roles: list[str] = Field(min_length=1)
    channels: list[StaffChannel] = Field(default_factory=_email_and_feed)
    webhooks: list[str] = Field(default_factory=list, description="Staff webhook names (settings).")
    urgent: bool = False
    booked_clinician: bool = Field(
        False, description="Also the clinician booked for the session the alert is about (on no rota too)."
    )


class StaffDirectory(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str
    staff: list[StaffMember] = Field(min_length=1)
    routing: dict[str, RoutingRule]

    def recipients(self, notification: str, clinician_id: str | None = None) -> list[StaffMember]:
        """The rule's groups (the on-call rota), and the booked clinician when the rule says so."""
        rule = self.routing.get(notification)
        if rule is None:
            return []
        booked = clinician_id if rule.booked_clinician else None
        return [m for m in self.staff if set(rule.roles).intersection(m.roles) or m.id == booked]

    def booked_from_events(
        self, notification: str, clinician_id: str | None, listed: Collection[str]
    ) -> str | None:
        """The booked clinician, when the rule sends to them and to their feed, and they are known
        only from scheduling's events (``listed``: ClinicianUpdated), not from this file (which wins:
        a person it lists is routed by it alone)."""
        rule = self.routing.get(notification)
        if rule is None or not rule.booked_clinician or "feed" not in rule.channels:
            return None
        if clinician_id is None or clinician_id not in listed or self.member(clinician_id) is not None:
            return None
        return clinician_id

    def member(self, staff_id: str) -> StaffMember | None:
        return next((m for m in self.staff if m.id == staff_id), None)

    def unrouted(self, notifications: Iterable[str]) -> list[str]:
        """Notifications with no rule or with no staff member holding a routed role."""
        return [n for n in notifications if not self.recipients(n)]


def load_staff(path: Path) -> StaffDirectory:
    return StaffDirectory.model_validate_json(path.read_text())
