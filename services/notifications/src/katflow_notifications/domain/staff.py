"""The staff directory and who receives which staff notification (configuration)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class StaffMember(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    display_name: str
    email: EmailStr
    roles: list[str]


class StaffDirectory(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: str
    staff: list[StaffMember] = Field(min_length=1)
    routing: dict[str, list[str]]

    def recipients(self, notification: str) -> list[StaffMember]:
        roles = set(self.routing.get(notification, ()))
        return [m for m in self.staff if roles.intersection(m.roles)]


def load_staff(path: Path) -> StaffDirectory:
    return StaffDirectory.model_validate_json(path.read_text())
