"""One unit of work per use case: its connection, its time, its cause, and what it writes.

A use case loads (reads on ``uow.conn``), decides (in its service's ``domain/``), and says what
changes: ``uow.emit(event)``, ``uow.audit(entry)``, ``uow.write(writes)``, ``uow.schedule(timers)``.
Those are pending until the unit ends; then they go to the database together, composed into one
statement (``db.composed``: one round trip, however many parts), and the unit commits. A block that
raises writes nothing. Once committed, the loops the writes made work for (the outbox relay, a
dispatcher, the timer workers) are woken, each once, the same way for every service: in-process
where this process runs that loop, else by a NOTIFY delivered at commit (``wakeup.resolved``).

Two kinds of unit (``Units.start``):

- with a transaction (the default, a ``db.transaction``): reads may lock (``FOR UPDATE``) and the
  use case may also write on ``uow.conn`` at once; ``await uow.flush()`` sends what is pending
  before a read that must see it;
- ``one_statement=True``: no transaction around it (no BEGIN and COMMIT round trips). Its reads see
  what was committed before; its pending writes are the only write and commit on their own, as one
  statement. For use cases that lock nothing (the public consultation form). ``flush`` is refused.

And a unit on a transaction its caller holds (``Units.on``: the timer worker's, one savepoint per
timer): its pending work is sent when the block ends, and commits with the caller's transaction.

The event consumer opens one for each event it handles (``messaging.consumer.UseCase``), with the
event as its cause and the event's inbox row among its writes: a redelivered event fails the unit's
statement on the inbox key and writes nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from . import audit, db, timer_rows
from .clock import Clock
from .contracts import Event
from .db import Part
from .messaging import outbox
from .messaging.cloudevents import Envelope
from .messaging.emitter import Emitter
from .wakeup import Announcer, Wake
from .writes import Writes


@dataclass
class UnitOfWork:
    """One use case's work: read on ``conn``; what it emits, audits and writes is sent at the end."""

    conn: asyncpg.Connection
    now: datetime  # the clock's, when the unit started: one time for everything it records
    cause: Envelope | None  # the event being handled (its correlation and causation go on)
    emitter: Emitter
    timing: Announcer  # the timer workers'
    transactional: bool
    _writes: list[Writes] = field(default_factory=list)
    _audits: list[tuple[object, ...]] = field(default_factory=list)
    _events: list[Envelope] = field(default_factory=list)
    _wakes: list[Wake] = field(default_factory=list)  # of every flush, sent by the last one
    _head: Part | None = None  # named CTEs of the caller's own in front of the next statement

    @property
    def service(self) -> str:
        """This service's name (an audit record's ``service``)."""
        return self.emitter.settings.service_name

    def emit(self, event: Event | Envelope) -> Envelope:
        """Publish ``event`` (through the outbox) once the unit commits; events keep their order. An
        envelope built earlier (``Emitter.envelope``, in the context of the work it announces) goes
        as it is."""
        envelope = event if isinstance(event, Envelope) else self.emitter.envelope(event, self.cause)
        self._events.append(envelope)
        return envelope

    def audit(self, entry: tuple[object, ...]) -> None:
        """Append an audit record (``audit.entry(...)``'s values) with the unit's writes."""
        self._audits.append(entry)

    def write(self, writes: Writes | Sequence[Part], head: Part | None = None) -> None:
        """The use case's own writes (an adapter's ``Part``s, or ``Writes`` with the loops they wake),
        sent with the rest. Parts run as CTEs of one statement: none sees another's rows, and no two
        may change the same row (``db.composed``); write at once on ``conn`` what must be seen.
        ``head``: named CTEs that refer to each other (``db.composed``'s), one per statement."""
        if head is not None:
            if self._head is not None:
                raise RuntimeError("one head per statement: flush before another")
            self._head = head
        self._writes.append(writes if isinstance(writes, Writes) else Writes(list(writes)))

    def schedule(self, wanted: timer_rows.Wanted) -> None:
        """Create or move timers (``timer_rows.scheduled``), the timer workers woken once committed."""
        self.write(timer_rows.scheduled(wanted, self.timing))

    async def flush(self) -> None:
        """Send what is pending now, so that the unit's next reads see it."""
        if not self.transactional:
            raise RuntimeError("a one-statement unit writes once, at its end")
        await self._send(last=False)

    def pending(self) -> Writes:
        """What is still to be sent: the use case's writes, the audit records, the outbox rows."""
        writes = sum(self._writes, Writes([]))
        if self._audits:
            writes += Writes([(audit.INSERT, a) for a in self._audits])
        if self._events:
            rows = outbox.rows([self.emitter.values(e) for e in self._events])
            writes += Writes([rows], wakes=[self.emitter.wake])
        return writes

    async def _send(self, last: bool) -> None:
        """One statement of what is pending. A wake of a loop this process runs waits for the last one
        (each loop woken once, after the commit); a NOTIFY goes with the statement that made its work
        (delivered at commit, once however often it was sent), not in a statement of its own."""
        writes, head = self.pending(), self._head
        self._writes, self._audits, self._events, self._head = [], [], [], None
        if last:
            wakes = list(dict.fromkeys([*self._wakes, *writes.wakes]))
        else:
            wakes = [w for w in writes.wakes if not w.announcer.attached]
            self._wakes += [w for w in writes.wakes if w.announcer.attached]
        await Writes(writes.parts, writes.results, wakes).run(self.conn, head)


class Units:
    """Where a service's use cases get their unit of work (built once, in ``bootstrap.py``)."""

    def __init__(self, pool: asyncpg.Pool, clock: Clock, emitter: Emitter, timing: Announcer) -> None:
        self.pool = pool
        self.clock = clock
        self.emitter = emitter  # the relay's announcer is in it
        self.timing = timing

    @contextlib.asynccontextmanager
    async def start(
        self, cause: Envelope | None = None, *, one_statement: bool = False
    ) -> AsyncIterator[UnitOfWork]:
        """A unit that commits when the block ends without an error (see the module's docstring)."""
        async with self.pool.acquire() as conn:
            if one_statement:
                unit = self._unit(conn, cause, transactional=False)
                yield unit
                await unit._send(last=True)  # on its own: one statement, its own transaction
                return
            async with db.transaction(conn):  # its wake-ups are called once it committed
                unit = self._unit(conn, cause, transactional=True)
                yield unit
                await unit._send(last=True)

    @contextlib.asynccontextmanager
    async def on(
        self, conn: asyncpg.Connection, cause: Envelope | None = None, *, now: datetime | None = None
    ) -> AsyncIterator[UnitOfWork]:
        """A unit inside the transaction (or savepoint) open on ``conn``: what is pending is sent
        when the block ends, and commits with that transaction; ``now`` is the caller's time."""
        if not conn.is_in_transaction():
            raise RuntimeError("Units.on needs a transaction open on the connection")
        unit = UnitOfWork(conn, now or self.clock.now(), cause, self.emitter, self.timing, True)
        yield unit
        await unit._send(last=True)

    def _unit(self, conn: asyncpg.Connection, cause: Envelope | None, transactional: bool) -> UnitOfWork:
        return UnitOfWork(conn, self.clock.now(), cause, self.emitter, self.timing, transactional)
