"""A workflow event delivered twice (a crash before its offset was committed, a rebalance) changes
scheduling once: the second delivery is recognised as a duplicate on the inbox key and writes
nothing — also when its use case booked (the booking's statement carries the inbox row). Real
PostgreSQL, scheduling's handlers run the way its consumer runs them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from katflow_scheduling.entrypoints import consumer
from katflow_scheduling.service_layer import visits
from katflow_shared.contracts import ConsultationRequested, Event, PreparationCompleted, SessionAdministered
from katflow_shared.contracts.common import Route
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.handling import apply
from tests.integration.test_timers_course import discharge
from tests.support.scheduling import STAFF, Harness

GROUP = "katflow-scheduling-workflow"


async def deliver(h: Harness, envelope: Envelope) -> bool:
    handler = consumer.handlers(h.deps)[type(envelope.event)]
    return await apply(h.units, GROUP, handler, envelope)


async def appointments(h: Harness, course_id: uuid.UUID) -> int:
    count = await h.pool.fetchval("SELECT count(*) FROM appointments WHERE course_id = $1", course_id)
    return int(count)


async def outbox(h: Harness) -> int:
    return int(await h.pool.fetchval("SELECT count(*) FROM outbox"))


async def twice(h: Harness, event: Event) -> None:
    envelope = Envelope(event, "/test")
    assert await deliver(h, envelope) is True
    written = await outbox(h)
    assert await deliver(h, envelope) is False  # a duplicate, not an error to retry or dead-letter
    assert await outbox(h) == written


async def test_a_redelivered_consultation_request_books_once(h: Harness) -> None:
    course_id = uuid.uuid4()
    requested = ConsultationRequested(
        consultation_request_id=uuid.uuid4(),
        course_id=course_id,
        patient_id=uuid.uuid4(),
        patient_time_zone="America/Chicago",
        preferred_route=Route.IV,
        requested_at=h.clock.now(),
    )
    await twice(h, requested)
    assert await appointments(h, course_id) == 1


async def test_a_redelivered_preparation_completed_books_the_first_dose_once(h: Harness) -> None:
    course_id = uuid.uuid4()
    protocol = h.deps.protocols.current(Route.IV)
    prepared = PreparationCompleted(
        course_id=course_id,
        patient_id=uuid.uuid4(),
        route=protocol.route,
        protocol_version=protocol.id,
        patient_time_zone="America/Chicago",
        completed_at=h.clock.now() - timedelta(minutes=1),
    )
    await twice(h, prepared)
    assert await appointments(h, course_id) == 1


async def test_a_redelivered_session_administered_books_the_integration_once(h: Harness) -> None:
    course_id = await h.prepared_course("iv")
    appointment_id, given = await h.give_dose(course_id)
    await h.at(given + timedelta(minutes=h.deps.protocols.get("iv@1").dosing.monitoring_minutes))
    await visits.record_session(h.units, h.deps, appointment_id, discharge(), STAFF)
    row = await h.pool.fetchrow(
        "SELECT payload FROM outbox WHERE headers::text LIKE '%SessionAdministered%' ORDER BY id DESC LIMIT 1"
    )
    assert row is not None
    administered = SessionAdministered.model_validate_json(bytes(row["payload"]))
    await twice(h, administered)
    integrations = await h.pool.fetchval(
        "SELECT count(*) FROM appointments WHERE course_id = $1 AND kind = 'integration'", course_id
    )
    assert integrations == 1
