"""A fired timer is a span, and the events its handler emits carry that span's W3C trace context
(real PostgreSQL: the outbox row's headers are what the relay publishes)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from katflow_shared import timers
from katflow_shared.clock import SystemClock
from katflow_shared.contracts import ConsultationRequested
from katflow_shared.db import create_pool, migrate
from katflow_shared.messaging import outbox
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.runtime import Runtime
from katflow_shared.settings import ServiceSettings
from katflow_shared.timers import Timer, TimerWorker
from katflow_shared.unit_of_work import UnitOfWork
from katflow_shared.wakeup import Announcer
from katflow_tools.databases import scratch_database
from tests.support.infra import Infra


async def emit_request(timer: Timer, uow: UnitOfWork) -> None:
    event = ConsultationRequested(
        consultation_request_id=uuid.uuid4(),
        course_id=uuid.UUID(timer.key),
        patient_id=uuid.uuid4(),
        patient_time_zone="Europe/Berlin",
        requested_at=uow.now,
    )
    uow.emit(event)


async def test_a_fired_timers_events_carry_its_span(infra: Infra, exported: InMemorySpanExporter) -> None:
    async with scratch_database(infra.pg_admin_dsn, "timer_trace") as scratch:
        pool = await create_pool(scratch.dsn, 2)
        try:
            await migrate(pool, ["katflow_shared"])
            settings = ServiceSettings(environment="test", database_url=scratch.dsn)
            emitter = Emitter(settings, Announcer(outbox.CHANNEL))
            runtime = Runtime(settings, pool, None, emitter, SystemClock())  # type: ignore[arg-type]
            worker = TimerWorker(runtime, {"test_emit": emit_request}, announcer=Announcer(timers.CHANNEL))
            course = uuid.uuid4()
            async with pool.acquire() as conn, conn.transaction():
                await timers.schedule(conn, "test_emit", str(course), datetime.now(UTC))
            assert await worker.fire_due() == 1
            headers = dict(json.loads(await pool.fetchval("SELECT headers FROM outbox")))
        finally:
            await pool.close()
    (span,) = [s for s in exported.get_finished_spans() if s.name == "timer test_emit"]
    _, trace_id, span_id, _ = headers["traceparent"].split("-")
    assert (trace_id, span_id) == (f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}")
