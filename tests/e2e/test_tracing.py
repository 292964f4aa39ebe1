"""Correlation and causation ids travel from the HTTP request through every hop and log line."""

from __future__ import annotations

import httpx

from katflow_shared.contracts import AppointmentScheduled, ConsultationRequested, topics
from tests.support.stack import Stack, consultation_request, read_topic, wait_for


async def test_request_id_becomes_the_correlation_id_of_every_event(stack: Stack) -> None:
    stack.start()
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            f"{stack.url('intake')}/v1/consultation-requests",
            json=consultation_request(),
            headers={"X-Request-ID": "req-trace-42"},
        )
    assert resp.status_code == 202 and resp.headers["X-Request-ID"] == "req-trace-42"

    requested = (
        await read_topic(stack.infra.kafka_bootstrap, stack.topic(topics.INTAKE), lambda rs: len(rs) >= 1)
    )[0]
    scheduled = (
        await read_topic(stack.infra.kafka_bootstrap, stack.topic(topics.SCHEDULING), lambda rs: len(rs) >= 1)
    )[0]
    first = {k: v.decode() for k, v in requested.headers}
    second = {k: v.decode() for k, v in scheduled.headers}
    assert first["ce_type"] == ConsultationRequested.event_type()
    assert second["ce_type"] == AppointmentScheduled.event_type()
    assert first["ce_correlationid"] == second["ce_correlationid"] == "req-trace-42"
    assert second["ce_causationid"] == first["ce_id"]

    async def logged() -> bool:
        lines = stack.services["scheduling"].log_path.read_text().splitlines()
        return any('"correlation_id": "req-trace-42"' in line and first["ce_id"] in line for line in lines)

    assert await wait_for(logged, within=30)


async def test_hostile_request_id_is_replaced(stack: Stack) -> None:
    stack.start("intake")
    async with httpx.AsyncClient() as http:
        resp = await http.get(
            f"{stack.url('intake')}/healthz", headers={"X-Request-ID": "x<script>alert(1)</script>"}
        )
    assert (
        resp.headers["X-Request-ID"] != "x<script>alert(1)</script>"
        and len(resp.headers["X-Request-ID"]) == 36
    )
