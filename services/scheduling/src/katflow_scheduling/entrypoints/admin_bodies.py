"""The admin API's request and response bodies: times of day as "HH:MM" strings (the clinic's zone,
never an offset), translated to and from the domain's ``Hours``."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints, model_validator

from katflow_shared.bodies import Body

from ..domain.clinic import ClinicConfig, Clinician, Hours, Room, TimeOff, Weekday, check_hours

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_]{0,39}$")]
HourMinute = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
WeekHours = dict[Weekday, tuple[HourMinute, HourMinute]]
BookingRole = Literal["consultation", "dosing", "integration"]


def to_hours(week: WeekHours) -> Hours:
    return {day: (time.fromisoformat(a), time.fromisoformat(b)) for day, (a, b) in week.items()}


def from_hours(hours: Hours) -> dict[str, tuple[str, str]]:
    return {day: (a.strftime("%H:%M"), b.strftime("%H:%M")) for day, (a, b) in hours.items()}


class ClinicianIn(Body):
    display_name: str = Field(min_length=1, max_length=100)
    roles: list[BookingRole] = Field(max_length=3, description="What they are booked for; none: not booked.")
    qualifications: list[Name] = Field(default_factory=list, max_length=20)
    hours: WeekHours | None = Field(
        None,
        description='Weekly hours, e.g. {"mon": ["09:00", "17:00"]} (clinic\'s zone); '
        "none: the opening hours.",
    )

    @model_validator(mode="after")
    def _hours(self) -> ClinicianIn:
        check_hours(to_hours(self.hours) if self.hours else None, "hours")
        return self

    def clinician(self, clinician_id: str) -> Clinician:
        hours = to_hours(self.hours) if self.hours else None
        return Clinician(
            id=clinician_id,
            display_name=self.display_name,
            roles=list(self.roles),
            qualifications=list(self.qualifications),
            hours=hours,
        )


class RoomIn(Body):
    display_name: str = Field(min_length=1, max_length=100)
    capabilities: list[Name] = Field(
        default_factory=list, max_length=20, description="e.g. iv_pump, recliner."
    )


class OpeningHoursIn(Body):
    opening_hours: WeekHours = Field(
        description='e.g. {"mon": ["09:00", "17:00"]} (clinic\'s zone); a day left out is closed.'
    )

    @model_validator(mode="after")
    def _hours(self) -> OpeningHoursIn:
        check_hours(to_hours(self.opening_hours), "opening_hours")
        return self


class ClosureIn(Body):
    day: date = Field(description="The closed day (clinic's zone).")
    label: str = Field("", max_length=100, description="e.g. a holiday's name.")


class TimeOffIn(Body):
    first_day: date
    last_day: date

    @model_validator(mode="after")
    def _ordered(self) -> TimeOffIn:
        if self.first_day > self.last_day:
            raise ValueError("first_day must not be after last_day")
        return self


class AffectedOut(BaseModel):
    appointment_id: UUID
    kind: str
    outcome: Literal["reassigned", "moved", "displaced"]
    previous_starts_at: datetime
    starts_at: datetime
    clinician_id: str


class ChangeOut(BaseModel):
    affected: list[AffectedOut] = Field(description="Appointments the change touched.")


class TimeOffOut(ChangeOut):
    time_off_id: UUID


class ProtocolOut(BaseModel):
    id: str
    route: str
    version: int
    current: bool = Field(
        description="The newest version on file for its route. Which one new courses are pinned to is"
        " intake's: its GET /v1/admin/protocols (`active`)."
    )


class ClinicianOut(BaseModel):
    id: str
    display_name: str
    roles: list[str]
    qualifications: list[str]
    hours: dict[str, tuple[str, str]] | None = Field(description="none: the opening hours.")
    time_off: list[TimeOff]

    @classmethod
    def of(cls, c: Clinician) -> ClinicianOut:
        hours = from_hours(c.hours) if c.hours else None
        return cls(
            id=c.id,
            display_name=c.display_name,
            roles=c.roles,
            qualifications=c.qualifications,
            hours=hours,
            time_off=c.time_off,
        )


class ClinicOut(BaseModel):
    clinic_id: str
    time_zone: str
    opening_hours: dict[str, tuple[str, str]]
    closures: dict[date, str] = Field(description="Closed days (clinic's zone) and their labels.")
    slot_minutes: int
    consultation_minutes: int
    booking_lead_hours: int
    booking_horizon_days: int
    clinicians: list[ClinicianOut]
    rooms: list[Room]

    @classmethod
    def of(cls, c: ClinicConfig) -> ClinicOut:
        return cls(
            clinic_id=c.clinic_id,
            time_zone=c.time_zone,
            opening_hours=from_hours(c.opening_hours),
            closures=c.closures,
            slot_minutes=c.slot_minutes,
            consultation_minutes=c.consultation_minutes,
            booking_lead_hours=c.booking_lead_hours,
            booking_horizon_days=c.booking_horizon_days,
            clinicians=[ClinicianOut.of(x) for x in c.clinicians],
            rooms=c.rooms,
        )
