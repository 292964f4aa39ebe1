"""A consultation request retried under the same Idempotency-Key (a client that lost the answer,
or sent it twice at once) is stored and announced once, and every try gets the first answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import RUN_ROOT
from tests.support.infra import Infra
from tests.support.stack import Stack, consultation_request, make_stack


@pytest.fixture(scope="module")
async def intake(infra: Infra) -> AsyncIterator[Stack]:
    s = await make_stack(infra, RUN_ROOT)
    s.start("intake")
    yield s
    s.stop()


async def stored(stack: Stack) -> dict[str, int]:
    counts = {}
    for table in ("patients", "contact_consents", "courses", "consultation_requests", "outbox"):
        counts[table] = await stack.fetchval("intake", f"SELECT count(*) FROM {table}")  # noqa: S608
    counts["audit"] = await stack.fetchval(
        "intake", "SELECT count(*) FROM audit_log WHERE action = 'consultation_request.create'"
    )
    return counts


async def test_retries_and_concurrent_copies_get_the_first_answer_and_store_nothing_more(
    intake: Stack,
) -> None:
    url = f"{intake.url('intake')}/v1/consultation-requests"
    body = consultation_request()
    async with httpx.AsyncClient(timeout=30) as http:
        first = await http.post(url, json=body, headers={"Idempotency-Key": "form-submit-1"})
        assert first.status_code == 202, first.text
        once = await stored(intake)
        assert once == {
            "patients": 1,
            "contact_consents": 2,  # email and sms, each with its capture
            "courses": 1,
            "consultation_requests": 1,
            "outbox": 2,  # PatientContactUpdated, ConsultationRequested
            "audit": 1,
        }
        again = await http.post(url, json=body, headers={"Idempotency-Key": "form-submit-1"})
        assert (again.status_code, again.json()) == (202, first.json())

        other = consultation_request()
        copies = await asyncio.gather(
            *(http.post(url, json=other, headers={"Idempotency-Key": "form-submit-2"}) for _ in range(6))
        )
    assert {c.status_code for c in copies} == {202}
    assert len({c.text for c in copies}) == 1  # the same ids for every copy
    assert await stored(intake) == {k: 2 * v for k, v in once.items()}
    kinds = await intake.fetchval("intake", "SELECT string_agg(headers::text, ' | ' ORDER BY id) FROM outbox")
    order = [("PatientContactUpdated" in k, "ConsultationRequested" in k) for k in kinds.split(" | ")]
    assert order == [(True, False), (False, True)] * 2  # per request: contact details, then the request
