"""notifications' consumer use cases on a recording connection: a write-only one (most events) is
one statement with the event's inbox row, no BEGIN or COMMIT; one that changes rows as it goes runs
in a transaction whose last statement carries the inbox row with the rest. Against PostgreSQL (a
redelivered event writes nothing): tests/integration/test_notifications_units.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from katflow_notifications import bootstrap
from katflow_notifications.adapters.postgres_queue import DELIVERIES_CHANNEL
from katflow_notifications.entrypoints import consumer
from katflow_notifications.service_layer.planning import Planner
from katflow_notifications.service_layer.workflow_events import WorkflowEvents
from katflow_notifications.settings import NotificationsSettings
from katflow_shared import timers
from katflow_shared.clock import FixedClock
from katflow_shared.contracts import (
    AppointmentRescheduled,
    AppointmentScheduled,
    ConsultationRequested,
    Event,
)
from katflow_shared.contracts.common import AppointmentKind
from katflow_shared.messaging import outbox
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.consumer import apply
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.treatment_protocols import load_protocols
from katflow_shared.unit_of_work import Units
from katflow_shared.wakeup import Announcer
from tests.support.recording_db import Pool

NOW = datetime(2024, 6, 3, 15, 0, tzinfo=UTC)
START = NOW + timedelta(days=3)
IDS = {k: uuid.uuid4() for k in ("appointment_id", "course_id", "patient_id")}


def events(settings: NotificationsSettings, clock: FixedClock) -> WorkflowEvents:
    templates = bootstrap.default_registry(settings.default_locale)
    directory = bootstrap.load_directory(settings)
    planner = Planner(directory, templates, settings, clock, Announcer(DELIVERIES_CHANNEL))
    reminders = bootstrap.reminders(settings, planner, clock)
    return WorkflowEvents(planner, reminders, bootstrap.rems_form_due_days(load_protocols()))


async def handled(event: Event) -> list[str]:
    """What reaches the database when the consumer handles ``event`` (statements, BEGIN, COMMIT)."""
    settings, clock, pool = NotificationsSettings(), FixedClock(NOW), Pool()
    emitter = Emitter(settings, Announcer(outbox.CHANNEL))
    units = Units(pool, clock, emitter, Announcer(timers.CHANNEL))  # type: ignore[arg-type]
    handler = consumer.handlers(events(settings, clock))[type(event)]
    envelope = Envelope(event=event, source="katflow/scheduling", time=NOW)
    assert await apply(units, "katflow-notifications-workflow", handler, envelope)
    return pool.log


def scheduled() -> AppointmentScheduled:
    kind = AppointmentKind.CONSULTATION
    end = START + timedelta(hours=1)
    return AppointmentScheduled(
        **IDS,
        kind=kind,
        clinician_id="clin-1",
        starts_at=START,
        ends_at=end,
        patient_time_zone="America/Chicago",
    )


@pytest.mark.parametrize("kind", ["a new appointment", "a consultation request"])
async def test_a_write_only_event_is_one_statement_with_its_inbox_row(kind: str) -> None:
    if kind == "a new appointment":
        event: Event = scheduled()
        writes = ("inbox", "deliveries", "appointments", "timers")
    else:
        requested = {k: IDS[k] for k in ("course_id", "patient_id")}
        event = ConsultationRequested(
            consultation_request_id=uuid.uuid4(),
            **requested,
            patient_time_zone="America/Chicago",
            requested_at=NOW,
        )
        writes = ("inbox", "deliveries")
    [statement] = await handled(event)  # no BEGIN, no COMMIT
    assert all(f"INSERT INTO {table}" in statement for table in writes)


async def test_a_rescheduled_appointment_runs_in_a_transaction_with_the_inbox_row_first() -> None:
    new = START + timedelta(days=1)
    moved = AppointmentRescheduled(
        **IDS,
        kind=AppointmentKind.CONSULTATION,
        previous_starts_at=START,
        starts_at=new,
        ends_at=new + timedelta(hours=1),
        patient_time_zone="America/Chicago",
    )
    log = await handled(moved)
    assert log[0] == "BEGIN" and "INSERT INTO inbox" in log[1] and log[-1] == "COMMIT"
    cancels, last = log[2:-2], log[-2]
    assert cancels and all(s.lstrip().startswith("UPDATE") for s in cancels)  # old reminders, at once
    assert all(f"INSERT INTO {t}" in last for t in ("deliveries", "appointments", "timers"))
