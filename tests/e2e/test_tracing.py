"""Correlation and causation ids travel from the HTTP request through every hop and log line; W3C
trace context does too, so one consultation request is one trace across the three services."""

from __future__ import annotations

import httpx
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtlpSpan

from katflow_shared.contracts import AppointmentScheduled, ConsultationRequested, topics
from tests.support.infra import Infra
from tests.support.otlp import Collected, traced_stack
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


async def test_one_consultation_request_is_one_trace_across_the_services(infra: Infra) -> None:
    async with traced_stack(infra) as (stack, collector):
        stack.start()
        async with httpx.AsyncClient() as http:
            resp = await http.post(
                f"{stack.url('intake')}/v1/consultation-requests", json=consultation_request()
            )
        assert resp.status_code == 202

        # The records carry W3C traceparent headers, all of one trace.
        requested = (
            await read_topic(stack.infra.kafka_bootstrap, stack.topic(topics.INTAKE), lambda rs: len(rs) >= 1)
        )[0]
        scheduled = (
            await read_topic(
                stack.infra.kafka_bootstrap, stack.topic(topics.SCHEDULING), lambda rs: len(rs) >= 1
            )
        )[0]
        first = dict(requested.headers)["traceparent"].decode().split("-")
        second = dict(scheduled.headers)["traceparent"].decode().split("-")
        trace_id = first[1]
        assert second[1] == trace_id and second[2] != first[2]

        def chain() -> tuple[Collected, Collected, Collected] | None:
            spans = {s.span_id: s for s in collector.collected() if s.trace_id == trace_id}
            by_name = {(s.service, s.name): s for s in spans.values()}
            handled = by_name.get(("katflow-scheduling", "handle ConsultationRequested"))
            notified = by_name.get(("katflow-notifications", "handle AppointmentScheduled"))
            if handled is None or notified is None:
                return None
            request = spans.get(handled.parent_id)
            return (request, handled, notified) if request is not None else None

        async def collected() -> tuple[Collected, Collected, Collected] | None:
            return chain()

        found = await wait_for(collected, within=60)
        assert found, f"no three-service trace among {collector.collected()}"
        request, handled, notified = found
        # intake's HTTP request span -> scheduling's consumer span -> notifications' consumer span
        assert request.service == "katflow-intake" and request.kind == OtlpSpan.SPAN_KIND_SERVER
        assert request.span_id == first[2]  # the event was emitted in the request's span
        assert handled.kind == notified.kind == OtlpSpan.SPAN_KIND_CONSUMER
        assert handled.span_id == second[2]  # AppointmentScheduled was emitted while handling
        assert notified.parent_id == handled.span_id
