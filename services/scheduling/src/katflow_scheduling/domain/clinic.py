"""The clinic as booking sees it: hours, clinicians (with their time off), rooms (with their
capabilities) and closures. Kept in scheduling's database and changed by admins at run time
(``service_layer.clinics``); the JSON file is only the seed of a new clinic."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, time
from pathlib import Path
from typing import Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from katflow_shared.contracts.common import TimeZoneName

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


Hours = dict[Weekday, tuple[time, time]]


def check_hours(hours: Hours | None, name: str) -> None:
    """Each day opens before it closes."""
    for day, (start, end) in (hours or {}).items():
        if start >= end:
            raise ValueError(f"{name}.{day}: opening must be before closing")


class TimeOff(BaseModel):
    """Whole days a clinician is away (clinic's zone), first and last included."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: UUID
    first_day: date
    last_day: date

    @model_validator(mode="after")
    def _days_ordered(self) -> TimeOff:
        if self.first_day > self.last_day:
            raise ValueError("first_day must not be after last_day")
        return self

    def covers(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


class Clinician(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    display_name: str
    roles: list[str]
    qualifications: list[str] = Field(default_factory=list, description="e.g. iv_certified, rems_trained.")
    hours: Hours | None = Field(
        None, description="Weekly working hours in the clinic's zone; default: the clinic's opening hours."
    )
    time_off: list[TimeOff] = Field(default_factory=list)

    @model_validator(mode="after")
    def _hours_ordered(self) -> Clinician:
        check_hours(self.hours, "hours")
        return self

    def off_on(self, day: date) -> bool:
        return any(t.covers(day) for t in self.time_off)


class Room(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    display_name: str
    capabilities: list[str] = Field(default_factory=list, description="e.g. iv_pump, recliner.")


class ClinicConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    clinic_id: str = Field(
        "main", description="One clinic by default; a group of clinics may share a deployment later."
    )
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
    closures: dict[date, str] = Field(
        default_factory=dict,
        description="Days the clinic is closed (clinic's zone), e.g. holidays: a label each.",
    )
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
        check_hours(self.opening_hours, "opening_hours")
        return self

    def clinicians_for(self, role: str) -> list[Clinician]:
        return [c for c in self.clinicians if role in c.roles]

    def rooms_with(self, capabilities: Collection[str]) -> list[Room]:
        """The rooms that have every one of ``capabilities``."""
        return [r for r in self.rooms if set(capabilities) <= set(r.capabilities)]

    def closed_on(self, day: date) -> bool:
        return day in self.closures

    def works(self, clinician_id: str, start: datetime, end: datetime) -> bool:
        """Whether the clinician works the whole of [start, end): not on time off, inside their
        weekly hours (rooms are always available; closed days have no slots at all)."""
        clinician = next((c for c in self.clinicians if c.id == clinician_id), None)
        if clinician is None:
            return True
        zone = ZoneInfo(self.time_zone)
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        if clinician.time_off and clinician.off_on(local_start.date()):
            return False
        if clinician.hours is None:
            return True
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
