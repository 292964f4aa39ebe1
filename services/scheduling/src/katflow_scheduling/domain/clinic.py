"""The clinic's configuration: hours, clinicians, rooms (validated at start-up)."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from katflow_shared.contracts.common import TimeZoneName

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Clinician(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    display_name: str
    roles: list[str]


class Room(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    display_name: str


class ClinicConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    time_zone: TimeZoneName
    opening_hours: dict[Weekday, tuple[time, time]]
    slot_minutes: int = Field(gt=0, le=240)
    consultation_minutes: int = Field(gt=0, le=480)
    booking_lead_hours: int = Field(ge=0)
    booking_horizon_days: int = Field(gt=0, le=366)
    patient_local_hours: tuple[time, time]
    clinicians: list[Clinician] = Field(min_length=1)
    rooms: list[Room] = Field(default_factory=list)

    @model_validator(mode="after")
    def _hours_ordered(self) -> ClinicConfig:
        for day, (start, end) in self.opening_hours.items():
            if start >= end:
                raise ValueError(f"opening_hours.{day}: opening must be before closing")
        return self

    def clinicians_for(self, role: str) -> list[Clinician]:
        return [c for c in self.clinicians if role in c.roles]


def load_clinic(path: Path) -> ClinicConfig:
    """Read and validate; a bad file stops the service with pydantic's message naming the field."""
    return ClinicConfig.model_validate_json(path.read_text())
