"""Accept a consultation request: store it, audit it and announce it in one statement (one round
trip, one transaction). A retry under the same Idempotency-Key of the same caller stores nothing
and gets the first answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import structlog

from katflow_shared import audit
from katflow_shared.auth import PUBLIC_FORM, Principal
from katflow_shared.contracts import ChannelConsent, ConsultationRequested, Event, PatientContactUpdated
from katflow_shared.errors import RuleViolation
from katflow_shared.messaging import outbox
from katflow_shared.messaging.emitter import Writes
from katflow_shared.runtime import Runtime

from ..adapters import postgres_intake as store
from ..domain.consultation import ConsultationRequestIn, age_on
from ..settings import IntakeSettings

log = structlog.get_logger()


class FormLimited(Exception):
    """Too many requests for one address, or for the form as a whole: a 429 after ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many requests; retry later")
        self.retry_after = retry_after


async def request_consultation(
    runtime: Runtime,
    body: ConsultationRequestIn,
    settings: IntakeSettings,
    idempotency: store.Idempotency | None,
    caller: Principal | None = None,
) -> dict[str, uuid.UUID]:
    """Store the request. Without a ``caller`` (the anonymous public form) the per-destination and
    hourly limits apply; a credentialed caller is not limited, and is the audit record's actor."""
    now = runtime.clock.now()
    min_age = settings.minimum_age_years
    if age_on(body.patient.date_of_birth, now.astimezone(UTC).date()) < min_age:
        raise RuleViolation(
            ["patient", "date_of_birth"], "minimum_age", f"patient must be at least {min_age}"
        )
    phone = body.patient.phone
    if phone is not None and not phone.startswith(tuple(settings.phone_country_codes)):
        raise RuleViolation(
            ["patient", "phone"],
            "phone_country_code",
            "the clinic texts numbers starting with " + ", ".join(settings.phone_country_codes) + " only",
        )
    keys = store.destinations(body.patient.email, phone)
    per_destination, last_hour = (
        await store.recent_requests(runtime.pool, keys, now) if caller is None else (0, 0)
    )
    if (
        per_destination >= settings.public_form_per_destination_per_day
        or last_hour >= settings.public_form_per_hour
    ):
        seen = await store.stored_under(runtime.pool, idempotency) if idempotency else None
        if seen is not None:  # a retry of a request stored before the limit was reached
            return seen
        log.warning(
            "public_form_limited",
            per_destination=per_destination >= settings.public_form_per_destination_per_day,
        )
        raise FormLimited(3600 if per_destination >= settings.public_form_per_destination_per_day else 60)
    ids = {k: uuid.uuid4() for k in ("consultation_request_id", "patient_id", "course_id")}
    parts = [
        *store.new_request(body, ids, now, idempotency),
        (audit.INSERT, _audited(runtime, ids, caller)),
        outbox.rows([runtime.emitter.outbox_values(e) for e in _events(body, ids, now)]),
    ]
    try:
        await Writes(parts, wakes=[runtime.emitter.wake]).run(runtime.pool)  # all of it, or nothing
    except asyncpg.UniqueViolationError as exc:
        if idempotency is None or exc.constraint_name != store.IDEMPOTENCY_KEY:
            raise
        seen = await store.stored_under(runtime.pool, idempotency)
        assert seen is not None  # it was there to conflict with, and nothing deletes requests
        return seen
    return ids


def _audited(runtime: Runtime, ids: dict[str, uuid.UUID], caller: Principal | None) -> tuple[object, ...]:
    return audit.entry(
        runtime.settings.service_name,
        caller or PUBLIC_FORM,
        "consultation_request.create",
        patient_id=ids["patient_id"],
        course_id=ids["course_id"],
        resource={"consultation_request_id": ids["consultation_request_id"]},
    )


def _events(body: ConsultationRequestIn, ids: dict[str, uuid.UUID], now: datetime) -> list[Event]:
    """The patient's contact details (restricted topic), then the request (ids only)."""
    requested = ConsultationRequested(
        consultation_request_id=ids["consultation_request_id"],
        course_id=ids["course_id"],
        patient_id=ids["patient_id"],
        patient_time_zone=body.patient.time_zone,
        preferred_route=body.preferred_route,
        requested_at=now,
    )
    return [_contact(body, ids["patient_id"], now), requested]


def _contact(body: ConsultationRequestIn, patient_id: uuid.UUID, now: datetime) -> PatientContactUpdated:
    p = body.patient
    return PatientContactUpdated(
        patient_id=patient_id,
        given_name=p.given_name,
        family_name=p.family_name,
        email=p.email,
        phone=p.phone,
        time_zone=p.time_zone,
        email_consent=ChannelConsent(granted=body.consent.email, captured_at=now, method="web-form"),
        sms_consent=ChannelConsent(granted=body.consent.sms, captured_at=now, method="web-form"),
        updated_at=now,
        date_of_birth=p.date_of_birth,
    )
