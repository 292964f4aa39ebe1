"""A consultation request costs what it cost before the unit of work (the benchmark counts statements
per request): for the anonymous form the rate-limit read and one statement that writes the patient,
consent, course, request, audit record and both events, with no BEGIN or COMMIT; for a credentialed
caller only that statement; nothing written when the form is limited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from katflow_intake.bootstrap import form_rules
from katflow_intake.domain.consultation import ConsultationRequestIn
from katflow_intake.service_layer.consultation import FormLimited, request_consultation
from katflow_intake.settings import IntakeSettings
from katflow_shared import timers
from katflow_shared.auth import system_principal
from katflow_shared.clock import FixedClock
from katflow_shared.messaging import outbox
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.unit_of_work import Units
from katflow_shared.wakeup import Announcer
from tests.support.recording_db import Pool

SETTINGS = IntakeSettings(environment="test")
BODY = ConsultationRequestIn.model_validate(
    {
        "patient": {
            "given_name": "Ana",
            "family_name": "Diaz",
            "date_of_birth": "1980-01-01",
            "email": "ana@example.org",
            "time_zone": "America/Chicago",
        },
        "consent": {"email": True},
        "indication": "treatment-resistant depression",
    }
)


def units(pool: Pool) -> Units:
    emitter = Emitter(SETTINGS, Announcer(outbox.CHANNEL))
    clock = FixedClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    return Units(pool, clock, emitter, Announcer(timers.CHANNEL))  # type: ignore[arg-type]


async def test_the_anonymous_form_is_one_read_and_one_statement() -> None:
    pool = Pool(rows=[(0, 0)])  # no earlier requests
    await request_consultation(units(pool), form_rules(SETTINGS), BODY, None, None)
    assert len(pool.log) == 2 and "public_form_destinations" in pool.log[0]
    written = pool.log[1]
    assert "INSERT INTO patients" in written and "INSERT INTO audit_log" in written
    assert written.count("INSERT INTO outbox") == 1 and "pg_notify" in written  # no relay runs here


async def test_a_credentialed_caller_is_one_statement() -> None:
    pool = Pool()
    await request_consultation(units(pool), form_rules(SETTINGS), BODY, None, system_principal("it"))
    assert len(pool.log) == 1 and "INSERT INTO consultation_requests" in pool.log[0]


async def test_a_limited_form_writes_nothing() -> None:
    pool = Pool(rows=[(SETTINGS.public_form_per_destination_per_day, 0)])
    with pytest.raises(FormLimited) as limited:
        await request_consultation(units(pool), form_rules(SETTINGS), BODY, None, None)
    assert limited.value.retry_after == 3600 and len(pool.log) == 1
