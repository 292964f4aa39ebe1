"""intake's tables: patients, consent history, courses, consultation requests."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from ..domain.consultation import ConsultationRequestIn


async def find_by_idempotency_key(conn: asyncpg.Connection, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, course_id, patient_id FROM consultation_requests WHERE idempotency_key = $1", key
    )


async def insert_request(
    conn: asyncpg.Connection,
    body: ConsultationRequestIn,
    ids: dict[str, UUID],
    now: datetime,
    idempotency_key: str | None,
) -> None:
    p = body.patient
    await conn.execute(
        "INSERT INTO patients(id, given_name, family_name, date_of_birth, email, phone, time_zone)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        ids["patient_id"],
        p.given_name,
        p.family_name,
        p.date_of_birth,
        p.email,
        p.phone,
        p.time_zone,
    )
    await conn.executemany(
        "INSERT INTO contact_consents(patient_id, channel, granted, captured_at, method)"
        " VALUES ($1, $2, $3, $4, 'web-form')",
        [
            (ids["patient_id"], "email", body.consent.email, now),
            (ids["patient_id"], "sms", body.consent.sms, now),
        ],
    )
    await conn.execute(
        "INSERT INTO courses(id, patient_id, preferred_route) VALUES ($1, $2, $3)",
        ids["course_id"],
        ids["patient_id"],
        body.preferred_route,
    )
    await conn.execute(
        "INSERT INTO consultation_requests(id, course_id, patient_id, indication, idempotency_key,"
        " requested_at) VALUES ($1, $2, $3, $4, $5, $6)",
        ids["consultation_request_id"],
        ids["course_id"],
        ids["patient_id"],
        body.indication,
        idempotency_key,
        now,
    )
