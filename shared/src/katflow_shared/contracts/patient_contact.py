"""Restricted topic: patient contact details and channel consent, for notifications only."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from .base import Event
from .common import TimeZoneName
from .topics import PATIENT_CONTACT


class ChannelConsent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    granted: bool = Field(description="Whether the patient agreed to messages on this channel.")
    captured_at: datetime | None = Field(None, description="When consent was given or withdrawn (UTC).")
    method: str | None = Field(None, description="How it was captured, e.g. 'web-form'.")


class PatientContactUpdated(Event):
    """Current contact details and consent of a patient. PHI: restricted topic, keyed by patient."""

    name: ClassVar[str] = "PatientContactUpdated"
    topic: ClassVar[str] = PATIENT_CONTACT
    key_field: ClassVar[str] = "patient_id"
    restricted: ClassVar[bool] = True

    patient_id: UUID = Field(description="Opaque patient id (Kafka key).")
    given_name: str = Field(description="Given name, for salutations.")
    family_name: str = Field(description="Family name.")
    email: str | None = Field(None, description="Email address, if given.")
    phone: str | None = Field(None, description="Phone number in E.164, if given.")
    time_zone: TimeZoneName = Field(description="Patient's IANA time zone.")
    email_consent: ChannelConsent = Field(description="Consent to email.")
    sms_consent: ChannelConsent = Field(description="Consent to SMS.")
    updated_at: datetime = Field(description="When intake recorded this version (UTC).")
    date_of_birth: date | None = Field(
        None,
        description="Date of birth: the second factor the patient's page asks before it shows anything "
        "personal (a forwarded link is not enough). Absent from producers that predate it.",
    )
