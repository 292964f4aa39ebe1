"""A patient's contact details as intake publishes them, for tests that feed notifications."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from katflow_shared.contracts import ChannelConsent, PatientContactUpdated


def contact_updated(
    patient_id: uuid.UUID,
    at: datetime,
    *,
    time_zone: str,
    email_address: str | None = None,
    phone: str | None = None,
    given_name: str = "Ana",
    email: bool = True,
    sms: bool = True,
    born: date | None = None,
) -> PatientContactUpdated:
    """``PatientContactUpdated`` recorded at ``at``, its consents to email and to SMS (granted or
    refused) captured by the web form at that time."""
    return PatientContactUpdated(
        patient_id=patient_id,
        given_name=given_name,
        family_name="Example",
        email=email_address,
        phone=phone,
        time_zone=time_zone,
        email_consent=ChannelConsent(granted=email, captured_at=at, method="web-form"),
        sms_consent=ChannelConsent(granted=sms, captured_at=at, method="web-form"),
        updated_at=at,
        date_of_birth=born,
    )
