"""A consultation request retried under the same Idempotency-Key (a client that lost the answer,
or sent it twice at once) is stored and announced once, and every try gets the first answer."""

from __future__ import annotations

import asyncio

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from katflow_shared.contracts import topics
from tests.support.stack import Stack, consultation_request, wait_for


async def stored(stack: Stack) -> dict[str, int]:
    counts = {}
    for table in ("patients", "contact_consents", "courses", "consultation_requests"):
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
    assert await wait_for(lambda: _outbox_empty(intake), within=30)  # published, then removed
    assert {t: await _types_on(intake, t) for t in (topics.INTAKE, topics.PATIENT_CONTACT)} == {
        topics.INTAKE: ["io.katflow.ConsultationRequested.v1"] * 2,  # each request announced once
        topics.PATIENT_CONTACT: ["io.katflow.PatientContactUpdated.v1"] * 2,
    }


async def _outbox_empty(stack: Stack) -> bool:
    return bool(await stack.fetchval("intake", "SELECT count(*) = 0 FROM outbox"))


async def _types_on(stack: Stack, topic: str) -> list[str]:
    """The event types of every record on the topic (read to its end)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.infra.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        spec = next(spec for spec in topics.WORKFLOW_TOPICS if spec.name == topic)
        parts = [TopicPartition(stack.topic(topic), p) for p in range(spec.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends, types = await consumer.end_offsets(parts), []
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                types += [dict(r.headers)["ce_type"].decode() for r in batch]
        return types
    finally:
        await consumer.stop()


async def test_an_idempotency_key_is_its_callers_own(intake: Stack) -> None:
    """The key used to be global: another caller's request under it got the first caller's ids back
    and was dropped. Now it is scoped to the credential, or without one to the request itself."""
    url = f"{intake.url('intake')}/v1/consultation-requests"
    key = {"Idempotency-Key": "everyone-uses-this-key"}
    staff, integrator = {**key, **intake.auth_headers()}, {**key, **intake.auth_headers("integrator")}
    before = await stored(intake)
    async with httpx.AsyncClient(timeout=30) as http:
        first = await http.post(url, json=consultation_request(10), headers=key)
        retried = await http.post(url, json=consultation_request(10), headers=key)
        someone_else = await http.post(url, json=consultation_request(11), headers=key)
        as_staff = await http.post(url, json=consultation_request(12), headers=staff)
        staff_retry = await http.post(
            url, json=consultation_request(13), headers=staff
        )  # same caller and key
        as_integrator = await http.post(url, json=consultation_request(12), headers=integrator)
        forged = await http.post(
            url, json=consultation_request(12), headers={**key, "Authorization": "Bearer x"}
        )
    answers = [first, retried, someone_else, as_staff, staff_retry, as_integrator]
    assert [a.status_code for a in answers] == [202] * 6
    ids = [a.json()["consultation_request_id"] for a in answers]
    assert len({ids[0], ids[2], ids[3], ids[5]}) == 4  # nobody gets another's ids
    assert ids[1] == ids[0] and ids[4] == ids[3]  # the same caller's retries get the first answer
    assert forged.status_code == 401  # a credential that fails is not a scope of its own
    after = await stored(intake)
    assert after["consultation_requests"] - before["consultation_requests"] == 4
