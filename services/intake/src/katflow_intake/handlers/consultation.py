"""Accept a consultation request: store it and announce it, in one transaction."""

from __future__ import annotations

import uuid
from datetime import UTC

from katflow_shared import audit
from katflow_shared.auth import PUBLIC_FORM
from katflow_shared.contracts import ChannelConsent, ConsultationRequested, PatientContactUpdated
from katflow_shared.http import RuleViolation
from katflow_shared.runtime import Runtime

from ..adapters import postgres_intake as store
from ..domain.consultation import ConsultationRequestIn, age_on


async def request_consultation(
    runtime: Runtime, body: ConsultationRequestIn, min_age: int, idempotency_key: str | None
) -> dict[str, uuid.UUID]:
    now = runtime.clock.now()
    if age_on(body.patient.date_of_birth, now.astimezone(UTC).date()) < min_age:
        raise RuleViolation(
            ["patient", "date_of_birth"], "minimum_age", f"patient must be at least {min_age}"
        )
    ids = {k: uuid.uuid4() for k in ("consultation_request_id", "patient_id", "course_id")}
    async with runtime.pool.acquire() as conn, conn.transaction():
        if idempotency_key and (seen := await store.find_by_idempotency_key(conn, idempotency_key)):
            return {
                "consultation_request_id": seen["id"],
                "patient_id": seen["patient_id"],
                "course_id": seen["course_id"],
            }
        await store.insert_request(conn, body, ids, now, idempotency_key)
        await audit.record(
            conn,
            audit.entry(
                runtime.settings.service_name,
                PUBLIC_FORM,
                "consultation_request.create",
                patient_id=ids["patient_id"],
                course_id=ids["course_id"],
                resource={"consultation_request_id": ids["consultation_request_id"]},
            ),
        )
        await runtime.emitter.emit(conn, _contact(body, ids["patient_id"], now))
        await runtime.emitter.emit(
            conn,
            ConsultationRequested(
                consultation_request_id=ids["consultation_request_id"],
                course_id=ids["course_id"],
                patient_id=ids["patient_id"],
                patient_time_zone=body.patient.time_zone,
                preferred_route=body.preferred_route,
                requested_at=now,
            ),
        )
    return ids


def _contact(body: ConsultationRequestIn, patient_id: uuid.UUID, now: object) -> PatientContactUpdated:
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
    )
