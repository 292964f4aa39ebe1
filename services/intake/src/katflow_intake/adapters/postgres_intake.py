"""intake's tables: patients, consent history, courses, consultation requests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from katflow_shared.db import Part

from ..domain.consultation import ConsultationRequestIn, RequestIds

Idempotency = tuple[str, str]  # (scope, key): whose Idempotency-Key (entrypoints.http) and the key


async def stored_under(conn: asyncpg.Connection, idempotency: Idempotency) -> RequestIds | None:
    """The ids of the request stored under this caller's Idempotency-Key, if one was."""
    row = await conn.fetchrow(
        "SELECT id AS consultation_request_id, patient_id, course_id FROM consultation_requests"
        " WHERE idempotency_scope = $1 AND idempotency_key = $2",
        *idempotency,
    )
    return RequestIds(**dict(row)) if row is not None else None


IDEMPOTENCY_KEY = "consultation_requests_idempotency"  # the unique constraint's name (migration 003)
DESTINATION_WINDOW = timedelta(days=1)
GLOBAL_WINDOW = timedelta(hours=1)


def destinations(email: str | None, phone: str | None) -> list[str]:
    """The addresses a request makes the clinic write to, as the SHA-256 of their normalised form: an
    email in lower case without a +tag (one inbox), a phone number as given (E.164)."""
    keys = []
    if email:
        local, _, domain = email.lower().rpartition("@")
        keys.append(f"email:{local.split('+')[0]}@{domain}")
    if phone:
        keys.append(f"phone:{phone}")
    return [hashlib.sha256(k.encode()).hexdigest() for k in keys]


async def recent_requests(conn: asyncpg.Connection, keys: Sequence[str], now: datetime) -> tuple[int, int]:
    """(most requests naming one of ``keys`` in the last day, all requests in the last hour)."""
    row = await conn.fetchrow(
        "SELECT (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM public_form_destinations"
        "         WHERE destination = ANY($1::text[]) AND requested_at > $2 GROUP BY destination) d),"
        " (SELECT count(*) FROM consultation_requests WHERE requested_at > $3)",
        list(keys),
        now - DESTINATION_WINDOW,
        now - GLOBAL_WINDOW,
    )
    assert row is not None
    return int(row[0]), int(row[1])


def new_request(
    body: ConsultationRequestIn, ids: RequestIds, now: datetime, idempotency: Idempotency | None
) -> list[Part]:
    """The patient, their consent per channel, the course and the request, for ``db.composed``.
    Stored a second time under the same ``idempotency`` (scope and key), the request fails with
    ``UniqueViolationError`` on ``IDEMPOTENCY_KEY`` (and so does the whole statement)."""
    p = body.patient
    return [
        (
            "INSERT INTO patients(id, given_name, family_name, date_of_birth, email, phone, time_zone)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            (ids.patient_id, p.given_name, p.family_name, p.date_of_birth, p.email, p.phone, p.time_zone),
        ),
        (
            "INSERT INTO contact_consents(patient_id, channel, granted, captured_at, method)"
            " VALUES ($1, 'email', $2, $4, 'web-form'), ($1, 'sms', $3, $4, 'web-form')",
            (ids.patient_id, body.consent.email, body.consent.sms, now),
        ),
        (
            "INSERT INTO courses(id, patient_id, preferred_route) VALUES ($1, $2, $3)",
            (ids.course_id, ids.patient_id, body.preferred_route),
        ),
        (
            "INSERT INTO public_form_destinations(destination, requested_at) SELECT unnest($1::text[]), $2",
            (destinations(p.email, p.phone), now),
        ),
        (
            "DELETE FROM public_form_destinations WHERE requested_at < $1",
            (now - DESTINATION_WINDOW,),
        ),
        (
            "INSERT INTO consultation_requests(id, course_id, patient_id, indication, idempotency_scope,"
            " idempotency_key, requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            (
                ids.consultation_request_id,
                ids.course_id,
                ids.patient_id,
                body.indication,
                *(idempotency or (None, None)),
                now,
            ),
        ),
    ]
