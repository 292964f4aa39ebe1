"""Wake a polling loop early when PostgreSQL delivers a NOTIFY (outbox relay, timer worker).

Writers call ``pg_notify(channel, payload)`` in the transaction that makes new work (PostgreSQL
delivers it at commit, never for a rolled-back transaction); the loop waits on a ``Wakeup`` between
polls. The notification only shortens a wait: the loop still polls, so a NOTIFY lost while the
connection was down (PostgreSQL restart) costs at most one poll interval, never work. A payload may
tell the loop enough to skip a look (the timer worker's is the new timer's due time).

Each ``Wakeup`` owns one dedicated connection for its LISTEN, never a pooled one (pooled connections
are returned without ``UNLISTEN *``: see ``db.create_pool``).

A writer in the same process as the loop need not go through PostgreSQL: an ``Announcer`` tells it
to note the work to that loop in-process once its commit has returned (see there).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import asyncpg

from .db import Part


class Wakeup:
    def __init__(self, dsn: str, channel: str) -> None:
        self.dsn = dsn
        self.channel = channel
        self._event = asyncio.Event()
        self._notes: list[str] = []  # payloads received since the last wait
        self._other = False  # woken since the last wait by set() or a lost connection
        self._conn: asyncpg.Connection | None = None

    async def listen(self) -> None:
        """Open the LISTEN connection unless it is open; call before each poll.

        Raises what connecting raises (the caller retries as for any database error). Work committed
        while it was closed is found by the poll that follows, since LISTEN is in place before it."""
        if self._conn is not None and not self._conn.is_closed():
            return
        self.drop()
        conn: asyncpg.Connection = await asyncpg.connect(self.dsn)
        try:
            await conn.add_listener(self.channel, self._notified)
        except BaseException:
            conn.terminate()
            raise
        conn.add_termination_listener(self._lost)
        self._conn = conn

    def note(self, payload: str) -> None:
        """A notification from this process, taken as a NOTIFY with ``payload`` would be."""
        self._notes.append(payload)
        self._event.set()

    def set(self) -> None:
        """Wake the waiting loop now (e.g. to stop it)."""
        self._other = True
        self._event.set()

    async def wait(self, seconds: float) -> list[str] | None:
        """Return after a NOTIFY (or ``set``) since the previous wait, or after ``seconds``: the
        payloads of the notifications received, or None when the wait ended without one or was also
        ended by ``set`` or a lost connection (then only a look can tell what is new).

        Only notifications received before the next poll's query are consumed here, and that query
        sees the work they announced (delivered after commit), so none is missed."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()
        notes, self._notes = self._notes, []
        other, self._other = self._other, False
        return None if other or not notes else notes

    def drop(self) -> None:
        """Forget the connection (after a database error): the next ``listen`` opens a new one."""
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=2)
            except Exception:
                conn.terminate()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._notes.append(payload)
        self._event.set()

    def _lost(self, conn: object) -> None:
        # The connection broke (PostgreSQL restart, backend terminated): wake the loop so it listens
        # again now rather than after its poll interval. Not for a connection we closed ourselves.
        if conn is self._conn:
            self._other = True
            self._event.set()


class Announcer:
    """How writers announce new work on ``channel``: a NOTIFY delivered at commit, or — while a loop
    of this process waits on the channel (``attach``) and takes any work announced there (the outbox
    relay that leads, a dispatcher, a timer worker) — a note to that loop in-process once the commit
    has returned, when the writer sees that commit (``resolved``).

    A NOTIFY costs every listening backend of the database a wake-up: under load a NOTIFY per
    request was a sixth of the pipeline's CPU (docs/benchmarks.md). The loops of other replicas find
    work announced in-process at their next poll, as they find work whose NOTIFY was lost."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._loop: Wakeup | None = None

    def attach(self, wakeup: Wakeup) -> None:
        """``wakeup``'s loop runs in this process and takes the work announced on the channel."""
        self._loop = wakeup

    def detach(self, wakeup: Wakeup) -> None:
        """The loop stopped (or, for the relay, no longer leads): announce with NOTIFYs again."""
        if self._loop is wakeup:
            self._loop = None

    @property
    def attached(self) -> bool:
        """Whether a loop of this process listens (its wakes can be called in-process)."""
        return self._loop is not None

    def wake(self, payload: str = "") -> Wake:
        """New work on the channel, ``payload`` for the loops there (as a NOTIFY's)."""
        return Wake(self, payload)


@dataclass(frozen=True)
class Wake:
    announcer: Announcer
    payload: str


def resolved(wakes: Sequence[Wake], in_process: bool) -> tuple[list[Part], list[Callable[[], None]]]:
    """How ``wakes`` go out from a statement: (the NOTIFYs for ``db.composed``'s results, delivered
    at commit; what to call once it committed). In-process where a loop of this process is attached
    and the writer can call after the commit (``in_process``: a statement of its own, or one in a
    ``db.transaction``), by NOTIFY otherwise. A wake-up whose work was rolled back after all (a
    savepoint) only costs its loop a look."""
    notify: list[Part] = []
    then: list[Callable[[], None]] = []
    for w in wakes:
        loop = w.announcer._loop
        if loop is not None and in_process:
            then.append(partial(loop.note, w.payload))
        else:
            notify.append(("pg_notify($1, $2)", (w.announcer.channel, w.payload)))
    return notify, then
