"""Group commit: work submitted concurrently is written in one transaction.

Callers ``submit`` an item and wait until the transaction that wrote it has committed. While one
transaction is being written, new items queue; the next transaction takes all of them. An idle
caller therefore waits for nothing extra (a group of one), and a busy service pays one BEGIN/COMMIT
and one WAL flush for many items instead of one each.

The guarantee a caller relies on does not change: when ``submit`` returns, its item is committed;
when it raises, nothing of its group was (the whole group rolls back, every member sees the error).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import asyncpg

T = TypeVar("T")
Write = Callable[[asyncpg.Connection, Sequence[T]], Awaitable[None]]


class GroupCommit(Generic[T]):
    def __init__(self, pool: asyncpg.Pool, write: Write[T], max_group: int = 50) -> None:
        self._pool = pool
        self._write = write
        self._max_group = max_group
        self._queued: list[tuple[T, asyncio.Future[None]]] = []
        self._writing = asyncio.Lock()

    async def submit(self, item: T) -> None:
        """Return once ``item`` is committed (with whatever else was queued with it)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((item, done))
        while not done.done():
            async with self._writing:
                if not done.done():  # the group before ours may have taken it
                    await self._commit_next(done)
        done.result()  # the group's error, if it failed

    async def _commit_next(self, mine: asyncio.Future[None]) -> None:
        queued = [(item, done) for item, done in self._queued if not done.done()]
        group, self._queued = queued[: self._max_group], queued[self._max_group :]
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await self._write(conn, [item for item, _ in group])
        except Exception as exc:
            for _, done in group:
                done.set_exception(exc)
        except BaseException:  # the writer was cancelled: its item is dropped, the others wait again
            mine.cancel()
            self._queued[:0] = [(item, done) for item, done in group if done is not mine]
            raise
        else:
            for _, done in group:
                done.set_result(None)
