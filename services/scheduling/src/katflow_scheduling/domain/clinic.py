"""The clinic's configuration: hours, clinicians, rooms (validated at start-up)."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from katflow_shared.contracts.common import TimeZoneName

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Clinician(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    display_name: str
    roles: list[str]
    hours: dict[Weekday, tuple[time, time]] | None = Field(
        None, description="Weekly working hours in the clinic's zone; default: the clinic's opening hours."
    )


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
    rems_certified: bool = Field(False, description="Site certified for the esketamine REMS.")
    no_show_grace_minutes: int = Field(15, ge=0, le=120, description="No-show grace for consultations.")
    waitlist_retry_minutes: int = Field(
        60,
        gt=0,
        le=1440,
        description="How often a waitlisted booking (consultation or dose) looks for a slot again.",
    )

    @model_validator(mode="after")
    def _hours_ordered(self) -> ClinicConfig:
        for day, (start, end) in self.opening_hours.items():
            if start >= end:
                raise ValueError(f"opening_hours.{day}: opening must be before closing")
        return self

    def clinicians_for(self, role: str) -> list[Clinician]:
        return [c for c in self.clinicians if role in c.roles]

    def works(self, clinician_id: str, start: datetime, end: datetime) -> bool:
        """Whether the clinician works the whole of [start, end) (rooms are always available)."""
        clinician = next((c for c in self.clinicians if c.id == clinician_id), None)
        if clinician is None or clinician.hours is None:
            return True
        local_start, local_end = (
            start.astimezone(ZoneInfo(self.time_zone)),
            end.astimezone(ZoneInfo(self.time_zone)),
        )
        hours = clinician.hours.get(WEEKDAYS[local_start.weekday()])
        return (
            hours is not None
            and local_start.date() == local_end.date()
            and hours[0] <= local_start.time()
            and local_end.time() <= hours[1]
        )


def load_clinic(path: Path) -> ClinicConfig:
    """Read and validate; a bad file stops the service with pydantic's message naming the field."""
    return ClinicConfig.model_validate_json(path.read_text())
