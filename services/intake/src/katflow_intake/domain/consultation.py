"""A consultation request as the public form submits it, with its validation rules."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from katflow_shared.contracts.common import Route, TimeZoneName
from katflow_shared.errors import RuleViolation

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


@dataclass(frozen=True)
class RequestIds:
    """What an accepted request is known by (a retry under its Idempotency-Key gets the same)."""

    consultation_request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    patient_id: uuid.UUID = field(default_factory=uuid.uuid4)
    course_id: uuid.UUID = field(default_factory=uuid.uuid4)


@dataclass(frozen=True)
class FormRules:
    """The clinic's rules for a request (from the settings)."""

    minimum_age_years: int
    phone_country_codes: tuple[str, ...]
    per_destination_per_day: int  # requests naming one email address or phone number
    per_hour: int  # requests from everyone together


def check_request(body: ConsultationRequestIn, today: date, rules: FormRules) -> None:
    """Raise RuleViolation when the clinic does not take the request."""
    min_age = rules.minimum_age_years
    if age_on(body.patient.date_of_birth, today) < min_age:
        raise RuleViolation(
            ["patient", "date_of_birth"], "minimum_age", f"patient must be at least {min_age}"
        )
    phone = body.patient.phone
    if phone is not None and not phone.startswith(rules.phone_country_codes):
        raise RuleViolation(
            ["patient", "phone"],
            "phone_country_code",
            "the clinic texts numbers starting with " + ", ".join(rules.phone_country_codes) + " only",
        )


def retry_after(per_destination: int, last_hour: int, rules: FormRules) -> int | None:
    """Seconds an anonymous caller is asked to wait (None: not limited): an hour when an address was
    named too often today, a minute when the form as a whole is busy."""
    if per_destination >= rules.per_destination_per_day:
        return 3600
    return 60 if last_hour >= rules.per_hour else None
