"""Accept a consultation request: store it, audit it and announce it in one statement (one round
trip, one transaction: a one-statement unit). A retry under the same Idempotency-Key of the same
caller stores nothing and gets the first answer."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import structlog

from katflow_shared import audit
from katflow_shared.auth import PUBLIC_FORM, Principal
from katflow_shared.contracts import ChannelConsent, ConsultationRequested, PatientContactUpdated
from katflow_shared.unit_of_work import UnitOfWork, Units

from ..adapters import postgres_intake as store
from ..domain.consultation import ConsultationRequestIn, FormRules, RequestIds, check_request, retry_after

log = structlog.get_logger()


class FormLimited(Exception):
    """Too many requests for one address, or for the form as a whole: a 429 after ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many requests; retry later")
        self.retry_after = retry_after


async def request_consultation(
    units: Units,
    rules: FormRules,
    body: ConsultationRequestIn,
    idempotency: store.Idempotency | None,
    caller: Principal | None,
) -> RequestIds:
    """Store the request. Without a ``caller`` (the anonymous public form) the per-destination and
    hourly limits apply; a credentialed caller is not limited, and is the audit record's actor."""
    try:
        async with units.start(one_statement=True) as uow:  # all of it, or nothing
            return await _accept(uow, rules, body, idempotency, caller)
    except asyncpg.UniqueViolationError as exc:
        if idempotency is None or exc.constraint_name != store.IDEMPOTENCY_KEY:
            raise
    async with units.start(one_statement=True) as uow:
        seen = await store.stored_under(uow.conn, idempotency)
    assert seen is not None  # it was there to conflict with, and nothing deletes requests
    return seen


async def _accept(
    uow: UnitOfWork,
    rules: FormRules,
    body: ConsultationRequestIn,
    idempotency: store.Idempotency | None,
    caller: Principal | None,
) -> RequestIds:
    check_request(body, uow.now.astimezone(UTC).date(), rules)
    if caller is None and (wait := await _limited(uow, rules, body)) is not None:
        seen = await store.stored_under(uow.conn, idempotency) if idempotency else None
        if seen is not None:  # a retry of a request stored before the limit was reached
            return seen
        log.warning("public_form_limited", per_destination=wait == 3600)
        raise FormLimited(wait)
    ids = RequestIds()
    uow.write(store.new_request(body, ids, uow.now, idempotency))
    uow.audit(_audited(uow.service, ids, caller))
    uow.emit(_contact(body, ids, uow.now))  # the patient's contact details (restricted topic) first
    uow.emit(_requested(body, ids, uow.now))
    return ids


async def _limited(uow: UnitOfWork, rules: FormRules, body: ConsultationRequestIn) -> int | None:
    """Seconds an anonymous caller must wait, None when the form takes the request."""
    keys = store.destinations(body.patient.email, body.patient.phone)
    per_destination, last_hour = await store.recent_requests(uow.conn, keys, uow.now)
    return retry_after(per_destination, last_hour, rules)


def _audited(service: str, ids: RequestIds, caller: Principal | None) -> tuple[object, ...]:
    return audit.entry(
        service,
        caller or PUBLIC_FORM,
        "consultation_request.create",
        patient_id=ids.patient_id,
        course_id=ids.course_id,
        resource={"consultation_request_id": ids.consultation_request_id},
    )


def _requested(body: ConsultationRequestIn, ids: RequestIds, now: datetime) -> ConsultationRequested:
    return ConsultationRequested(
        consultation_request_id=ids.consultation_request_id,
        course_id=ids.course_id,
        patient_id=ids.patient_id,
        patient_time_zone=body.patient.time_zone,
        preferred_route=body.preferred_route,
        requested_at=now,
    )


def _contact(body: ConsultationRequestIn, ids: RequestIds, now: datetime) -> PatientContactUpdated:
    p = body.patient
    return PatientContactUpdated(
        patient_id=ids.patient_id,
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
