"""Wake a polling loop early when PostgreSQL delivers a NOTIFY (outbox relay, timer worker).

Writers call ``pg_notify(channel, payload)`` in the transaction that makes new work (PostgreSQL
delivers it at commit, never for a rolled-back transaction); the loop waits on a ``Wakeup`` between
polls. The notification only shortens a wait: the loop still polls, so a NOTIFY lost while the
connection was down (PostgreSQL restart) costs at most one poll interval, never work. A payload may
tell the loop enough to skip a look (the timer worker's is the new timer's due time).

Each ``Wakeup`` owns one dedicated connection for its LISTEN, never a pooled one (pooled connections
are returned without ``UNLISTEN *``: see ``db.create_pool``).
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg


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
