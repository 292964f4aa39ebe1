"""Handling one consumed event once: its use case, its inbox row and its audit record commit
together, or nothing does (a redelivered event is skipped on the inbox key).

A use case (``UseCase``) runs in a unit of work (``katflow_shared.unit_of_work``) whose cause is the
event and whose writes include the event's inbox row:

- ``one_statement=True`` (write-only use cases: no lock, nothing to read that must be locked): the
  whole unit is one statement, without BEGIN and COMMIT — one round trip per event;
- else in a transaction: the inbox row first (a redelivered event stops there, before its use case
  runs: a second run could fail on the state its first delivery left and be dead-lettered instead
  of skipped), then the use case's reads and at-once writes on ``uow.conn``, then one statement with
  the rest, then COMMIT.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from .. import audit
from ..contracts import Event
from ..contracts.topics import RESTRICTED_TOPICS
from ..unit_of_work import UnitOfWork, Units
from . import inbox
from .cloudevents import Envelope
from .emitter import Emitter


@dataclass(frozen=True)
class UseCase:
    """What the consumer runs for an event type: ``run(event, uow)`` in a unit of work caused by the
    event; with ``one_statement``, a unit without a transaction (``Units.start``), for use cases that
    only write."""

    run: Callable[[Any, UnitOfWork], Awaitable[None]]
    one_statement: bool = False


Handlers = Mapping[type[Event], UseCase]  # a service's: what it runs for each event type it consumes


async def apply(units: Units, group: str, use: UseCase, envelope: Envelope) -> bool:
    """Handle one event once for consumer ``group``: its inbox row and its effects commit together,
    with an audit record when the event carries contact details. False when the group had handled
    it already (nothing changed)."""
    try:
        await _in_unit(units, group, use, envelope)
    except asyncpg.UniqueViolationError as exc:
        # A one-statement unit's parts may meet another key before the inbox's: handled already if
        # the inbox has the event (the failed statement wrote nothing), else a real conflict.
        if exc.constraint_name != inbox.KEY and not await inbox.handled(units.pool, group, envelope.id):
            raise
        return False
    return True


async def _in_unit(units: Units, group: str, use: UseCase, envelope: Envelope) -> None:
    async with units.start(envelope, one_statement=use.one_statement) as uow:
        uow.write([inbox.row(group, envelope.id)])
        if not use.one_statement:
            await uow.flush()  # a redelivery fails here, on the inbox key, before its use case runs
        await use.run(envelope.event, uow)
        if record := _audit_record(units.emitter, envelope):
            uow.audit(record)


def _audit_record(emitter: Emitter, envelope: Envelope) -> tuple[object, ...] | None:
    """The audit record of handling an event that carries contact details (none for others)."""
    if envelope.event.topic not in RESTRICTED_TOPICS:
        return None
    return audit.entry(
        emitter.settings.service_name,
        None,
        f"event.{envelope.event.name}",
        patient_id=getattr(envelope.event, "patient_id", None),
        resource={"event_id": envelope.id},
        request_id=envelope.correlation_id,
    )
