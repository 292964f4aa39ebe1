"""The contact upsert on a real PostgreSQL applies the domain's consent rule (domain.consent.newest)
and keeps the newest contact details, whatever order the updates arrive in: every combination of
what is on file and what comes in, checked against the Python rule."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from katflow_notifications.adapters.postgres_recipients import recipient_row
from katflow_notifications.domain.consent import Consent, newest
from katflow_shared.contracts import ChannelConsent, PatientContactUpdated
from tests.support.databases import NOTIFICATIONS, migrated_database
from tests.support.infra import Infra

T0 = datetime(2026, 1, 5, 12, tzinfo=UTC)
CAPTURES = [None, T0, T0 + timedelta(days=1)]  # undated, earlier, later


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_database(infra, "recipients_it", NOTIFICATIONS) as db:
        yield db.pool


def update(
    patient: uuid.UUID, email: Consent, sms: Consent, updated_at: datetime, name: str
) -> PatientContactUpdated:
    return PatientContactUpdated(
        patient_id=patient,
        given_name=name,
        family_name="Example",
        email=f"{name.lower()}@example.org",
        phone="+13125550100",
        time_zone="America/Chicago",
        email_consent=channel(email),
        sms_consent=channel(sms),
        updated_at=updated_at,
    )


def channel(c: Consent) -> ChannelConsent:
    return ChannelConsent(granted=c.granted, captured_at=c.captured_at, method=c.method)


async def upsert(pool: asyncpg.Pool, e: PatientContactUpdated) -> None:
    statement, values = recipient_row(e)
    await pool.execute(statement, *values)


async def test_every_order_of_updates_keeps_the_newest_consent_and_contact(pool: asyncpg.Pool) -> None:
    for on_file_at, incoming_at in itertools.product(CAPTURES, CAPTURES):
        patient = uuid.uuid4()
        on_file = Consent(True, on_file_at, "web-form")
        incoming = Consent(False, incoming_at, "sms-keyword")
        older, newer = T0, T0 + timedelta(hours=1)
        await upsert(pool, update(patient, on_file, incoming, newer, "Ana"))  # sms: the other way round
        await upsert(pool, update(patient, incoming, on_file, older, "Old"))
        row = await pool.fetchrow("SELECT * FROM recipients WHERE patient_id = $1", patient)
        assert row is not None
        email, sms = newest(on_file, incoming), newest(incoming, on_file)
        got_email = Consent(row["email_consent"], row["email_consent_at"], row["email_consent_method"])
        got_sms = Consent(row["sms_consent"], row["sms_consent_at"], row["sms_consent_method"])
        assert (got_email, got_sms) == (email, sms), (on_file_at, incoming_at)
        dated = [c for c in (email.captured_at, sms.captured_at) if c is not None]
        assert row["consent_updated_at"] == (max(dated) if dated else None)
        assert (row["given_name"], row["email"], row["updated_at"]) == ("Ana", "ana@example.org", newer)
