"""A consultation request as the public form submits it, with its validation rules."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from katflow_shared.contracts.common import Route, TimeZoneName

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]


class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    given_name: Name = Field(description="Given name.")
    family_name: Name = Field(description="Family name.")
    date_of_birth: date = Field(description="Date of birth (YYYY-MM-DD).")
    email: EmailStr | None = Field(None, description="Email address.")
    phone: Phone | None = Field(None, description="Mobile number in E.164 form, e.g. +15551234567.")
    time_zone: TimeZoneName = Field(description="IANA time zone, e.g. America/Chicago.")

    @model_validator(mode="after")
    def _reachable(self) -> PatientIn:
        if self.email is None and self.phone is None:
            raise ValueError("give an email address or a phone number (or both)")
        return self


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: bool = Field(False, description="Patient agrees to email.")
    sms: bool = Field(False, description="Patient agrees to text messages.")


class ConsultationRequestIn(BaseModel):
    """Body of POST /v1/consultation-requests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patient: PatientIn
    consent: ConsentIn = Field(default_factory=ConsentIn, description="Contact consent per channel.")
    indication: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=500)] = (
        Field(description="Why the patient seeks a consultation (stays in intake, never in events).")
    )
    preferred_route: Route | None = Field(None, description="Route the patient asks about, if any.")

    @model_validator(mode="after")
    def _consent_matches_contact(self) -> ConsultationRequestIn:
        if self.consent.email and self.patient.email is None:
            raise ValueError("consent.email given but patient.email is missing")
        if self.consent.sms and self.patient.phone is None:
            raise ValueError("consent.sms given but patient.phone is missing")
        return self


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
