"""intake's tables: patients, consent history, courses, consultation requests."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from katflow_shared.db import Part

from ..domain.consultation import ConsultationRequestIn

Idempotency = tuple[str, str]  # (scope, key): whose Idempotency-Key (entrypoints.http) and the key


async def stored_under(pool: asyncpg.Pool, idempotency: Idempotency) -> dict[str, UUID] | None:
    """The ids of the request stored under this caller's Idempotency-Key, if one was."""
    row = await pool.fetchrow(
        "SELECT id AS consultation_request_id, patient_id, course_id FROM consultation_requests"
        " WHERE idempotency_scope = $1 AND idempotency_key = $2",
        *idempotency,
    )
    return dict(row) if row is not None else None


IDEMPOTENCY_KEY = "consultation_requests_idempotency"  # the unique constraint's name (migration 003)


def new_request(
    body: ConsultationRequestIn, ids: dict[str, UUID], now: datetime, idempotency: Idempotency | None
) -> list[Part]:
    """The patient, their consent per channel, the course and the request, for ``db.composed``.
    Stored a second time under the same ``idempotency`` (scope and key), the request fails with
    ``UniqueViolationError`` on ``IDEMPOTENCY_KEY`` (and so does the whole statement)."""
    p = body.patient
    return [
        (
            "INSERT INTO patients(id, given_name, family_name, date_of_birth, email, phone, time_zone)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            (ids["patient_id"], p.given_name, p.family_name, p.date_of_birth, p.email, p.phone, p.time_zone),
        ),
        (
            "INSERT INTO contact_consents(patient_id, channel, granted, captured_at, method)"
            " VALUES ($1, 'email', $2, $4, 'web-form'), ($1, 'sms', $3, $4, 'web-form')",
            (ids["patient_id"], body.consent.email, body.consent.sms, now),
        ),
        (
            "INSERT INTO courses(id, patient_id, preferred_route) VALUES ($1, $2, $3)",
            (ids["course_id"], ids["patient_id"], body.preferred_route),
        ),
        (
            "INSERT INTO consultation_requests(id, course_id, patient_id, indication, idempotency_scope,"
            " idempotency_key, requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            (
                ids["consultation_request_id"],
                ids["course_id"],
                ids["patient_id"],
                body.indication,
                *(idempotency or (None, None)),
                now,
            ),
        ),
    ]
