"""Every event the console consumes, into its read model: a unit of work caused by the event (one
transaction with its inbox row)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from katflow_shared.clock import Clock
from katflow_shared.contracts import Event, SessionAdministered
from katflow_shared.contracts.patient_contact import PatientContactUpdated
from katflow_shared.treatment_protocols import load_protocols
from katflow_shared.unit_of_work import UnitOfWork

from ..adapters import postgres_read_model as store
from ..adapters import postgres_rems
from ..domain.board import STATUS_OF, alert_for

# when an event happened, by its own fields (else when the console reads it, on its clock)
WHEN = (
    "raised_at", "failed_at", "sent_at", "administered_at", "due_at", "marked_at", "cancelled_at",
    "completed_at", "requested_at", "decided_at", "confirmed_at", "window_closed_at", "waitlisted_at",
    "displaced_at",
)  # fmt: skip


class Projection:
    """Every event, into the read model; ``clock`` dates the events that carry no time of their own."""

    def __init__(self, clock: Clock, zone: ZoneInfo) -> None:
        self.clock, self.zone = clock, zone

    async def __call__(self, event: Event, uow: UnitOfWork) -> None:
        await project(event, uow, self.clock.now())
        if isinstance(event, SessionAdministered):
            await self._expect_rems_form(event, uow)

    async def _expect_rems_form(self, event: SessionAdministered, uow: UnitOfWork) -> None:
        days = rems_form_due_days(event.protocol_version)
        if days is not None:
            due = event.administered_at.astimezone(self.zone).date() + timedelta(days=days)
            await postgres_rems.expect_form(uow.conn, event.model_dump(mode="json"), due)


async def project(event: Event, uow: UnitOfWork, now: datetime) -> None:
    if isinstance(event, PatientContactUpdated):
        await store.save_name(uow.conn, event)
        return
    course_id = getattr(event, "course_id", None)
    if course_id is None:
        return  # clinic administration events: no course to show them on
    assert uow.cause is not None  # the consumed event's envelope
    event_id = uow.cause.id
    data: dict[str, Any] = event.model_dump(mode="json")
    at = _occurred_at(data, now)
    await store.save_event(uow.conn, event_id, course_id, type(event).name, at, json.dumps(data))
    if patient_id := data.get("patient_id"):
        await store.save_course_patient(uow.conn, course_id, patient_id)
    await _board(uow, type(event).name, data, at)
    if alert := alert_for(event):
        await store.raise_alert(uow.conn, event_id, course_id, alert, at)


async def _board(uow: UnitOfWork, name: str, data: dict[str, Any], at: datetime) -> None:
    if name in ("AppointmentScheduled", "AppointmentRescheduled"):
        await store.upsert_appointment(uow.conn, data, at)
    elif name in STATUS_OF and "appointment_id" in data:
        await store.set_status(uow.conn, data["appointment_id"], STATUS_OF[name], at)
    elif name == "MonitoringCheckDue":
        status = "discharge_ready" if data["check"] == "discharge" else "in_monitoring"
        await store.set_course_status(uow.conn, data["course_id"], "dosing", status, at)


def _occurred_at(data: dict[str, Any], fallback: datetime) -> datetime:
    for key in WHEN:
        if data.get(key):
            return datetime.fromisoformat(data[key])
    return fallback


@cache
def rems_form_due_days(protocol_version: str) -> int | None:
    """Days after a session its REMS monitoring form is due (None: no REMS form for the protocol)."""
    try:
        return load_protocols().get(protocol_version).dosing.rems_form_due_days
    except KeyError:
        return None
