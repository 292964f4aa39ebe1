"""Handling one consumed event once: its use case, its inbox row and its audit record commit
together, or nothing does (a redelivered event is skipped on the inbox key).

A use case (``UseCase``) runs in a unit of work (``katflow_shared.unit_of_work``) whose cause is the
event and whose writes include the event's inbox row, sent with the rest at the unit's end:

- ``one_statement=True`` (write-only use cases: no lock, nothing to read that must be locked): the
  whole unit is one statement, without BEGIN and COMMIT — one round trip per event;
- else in a transaction: reads and at-once writes on ``uow.conn``, then one statement with the inbox
  row, then COMMIT. A redelivered event's use case runs again and is rolled back at the end.

``Handler`` (``HandlerContext``) and ``Planned`` are the older kinds, kept while scheduling and the
console still use them: delete them, ``_write`` and ``_transact`` once every handler is a use case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from .. import audit, db
from ..contracts.topics import RESTRICTED_TOPICS
from ..unit_of_work import UnitOfWork, Units
from ..writes import Writes
from . import inbox
from .cloudevents import Envelope
from .emitter import Emitter, HandlerContext, Planned

Handler = Callable[[Any, HandlerContext], Awaitable[None]]  # the older kind (see the module's docstring)


@dataclass(frozen=True)
class UseCase:
    """What the consumer runs for an event type: ``run(event, uow)`` in a unit of work caused by the
    event; with ``one_statement``, a unit without a transaction (``Units.start``), for use cases that
    only write."""

    run: Callable[[Any, UnitOfWork], Awaitable[None]]
    one_statement: bool = False


AnyHandler = UseCase | Handler | Planned


async def apply(units: Units, group: str, handler: AnyHandler, envelope: Envelope) -> bool:
    """Handle one event once for consumer ``group``: its inbox row and its effects commit together,
    with an audit record when the event carries contact details. False when the group had handled
    it already (nothing changed)."""
    try:
        if isinstance(handler, UseCase):
            await _in_unit(units, group, handler, envelope)
        elif isinstance(handler, Planned):
            await _write(units.pool, group, units.emitter, handler, envelope)
        else:
            return await _transact(units.pool, group, units.emitter, handler, envelope)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != inbox.KEY:
            raise
        return False
    return True


async def _in_unit(units: Units, group: str, use: UseCase, envelope: Envelope) -> None:
    async with units.start(envelope, one_statement=use.one_statement) as uow:
        uow.write([inbox.row(group, envelope.id)])
        await use.run(envelope.event, uow)
        if record := _audit_record(units.emitter, envelope):
            uow.audit(record)


async def _write(
    pool: asyncpg.Pool, group: str, emitter: Emitter, handler: Planned, envelope: Envelope
) -> None:
    record = _audit_record(emitter, envelope)
    writes = (
        Writes([inbox.row(group, envelope.id)])
        + handler.plan(envelope.event, envelope)
        + Writes([(audit.INSERT, record)] if record else [])
    )
    await writes.run(pool)


async def _transact(
    pool: asyncpg.Pool, group: str, emitter: Emitter, handler: Handler, envelope: Envelope
) -> bool:
    async with pool.acquire() as conn, db.transaction(conn):
        if not await inbox.first_delivery(conn, group, envelope.id):
            return False
        await handler(envelope.event, HandlerContext(conn, envelope, emitter))
        if record := _audit_record(emitter, envelope):
            await audit.record(conn, record)
    return True


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
