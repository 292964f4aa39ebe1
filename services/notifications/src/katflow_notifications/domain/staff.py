"""The staff directory and who receives which staff notification, on which channels (configuration).

Clinicians added through scheduling's admin API are known from its ClinicianUpdated events too:
feed-only members (``FeedOnlyMember``), with a feed and their booked sessions' alerts on it. This
file stays the place for emails and rota groups, and wins when both know a person. The one look-up
of both is ``adapters.postgres_staff.member``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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

    def reaches(self, channel: str) -> bool:
        """A member of the file has an address for every staff channel."""
        return True


@dataclass(frozen=True)
class FeedOnlyMember:
    """A clinician known only from scheduling's ClinicianUpdated: an id and no address, so their feed
    only, in the clinic's zone."""

    id: str
    time_zone: None = None
    roles: tuple[str, ...] = ()

    def reaches(self, channel: str) -> bool:
        return channel == "feed"


Member = StaffMember | FeedOnlyMember  # someone the staff directory knows (``postgres_staff.member``)


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

    def recipients(self, notification: str, booked: Member | None = None) -> list[Member]:
        """The rule's groups (the on-call rota, in the file's order), and the ``booked`` clinician
        when the rule says so (once, also when on the rota; last when the file does not list them)."""
        rule = self.routing.get(notification)
        if rule is None:
            return []
        booked = booked if rule.booked_clinician else None
        members: list[Member] = [
            m
            for m in self.staff
            if set(rule.roles).intersection(m.roles) or (booked is not None and m.id == booked.id)
        ]
        if booked is not None and all(m.id != booked.id for m in members):
            members.append(booked)
        return members

    def entry(self, staff_id: str) -> StaffMember | None:
        """This file's entry for ``staff_id`` (the directory's look-up is ``postgres_staff.member``)."""
        return next((m for m in self.staff if m.id == staff_id), None)

    def unrouted(self, notifications: Iterable[str]) -> list[str]:
        """Notifications with no rule or with no staff member holding a routed role."""
        return [n for n in notifications if not self.recipients(n)]


def load_staff(path: Path) -> StaffDirectory:
    return StaffDirectory.model_validate_json(path.read_text())
