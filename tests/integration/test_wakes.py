"""Wake-ups after commit against a real PostgreSQL (``Writes.run``, ``db.transaction``): a loop of
this process is noted in-process once the writes committed — never before, never after a rollback —
and only where the writer sees the commit; elsewhere the NOTIFY goes through PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from katflow_shared import db
from katflow_shared.db import create_pool
from katflow_shared.wakeup import Announcer, Wakeup
from katflow_shared.writes import Writes
from katflow_tools.databases import scratch_database
from tests.support.infra import Infra

CHANNEL = "katflow_test_work"


@dataclass
class Setup:
    pool: asyncpg.Pool
    announcer: Announcer
    loop: Wakeup  # attached: what this process's loop would wait on
    heard: list[str]  # NOTIFYs on the channel, through PostgreSQL

    def writes(self, n: int) -> Writes:
        return Writes([("INSERT INTO work(n) VALUES ($1)", (n,))], wakes=[self.announcer.wake(str(n))])

    async def noted(self) -> list[str] | None:
        """What the loop was noted since the last look (None: nothing)."""
        return await self.loop.wait(0)

    async def rows(self) -> list[int]:
        return [r["n"] for r in await self.pool.fetch("SELECT n FROM work ORDER BY n")]


@pytest.fixture
async def setup(infra: Infra) -> AsyncIterator[Setup]:
    async with scratch_database(infra.pg_admin_dsn, "wakes_it") as scratch:
        pool = await create_pool(scratch.dsn, 4)
        listener = await asyncpg.connect(scratch.dsn)
        heard: list[str] = []
        await listener.add_listener(CHANNEL, lambda *args: heard.append(args[3]))
        try:
            await pool.execute("CREATE TABLE work (n int NOT NULL)")
            announcer, loop = Announcer(CHANNEL), Wakeup(scratch.dsn, CHANNEL)
            announcer.attach(loop)
            yield Setup(pool, announcer, loop, heard)
        finally:
            await listener.close()
            await pool.close()


async def settle() -> None:
    await asyncio.sleep(0.2)  # a NOTIFY arrives in milliseconds


async def test_a_statement_of_its_own_notes_the_loop_once_committed_without_a_notify(setup: Setup) -> None:
    await setup.writes(1).run(setup.pool)
    assert await setup.noted() == ["1"]
    await settle()
    assert setup.heard == [] and await setup.rows() == [1]


async def test_a_db_transaction_notes_the_loop_after_its_commit_and_not_before(setup: Setup) -> None:
    async with setup.pool.acquire() as conn:
        async with db.transaction(conn):
            await setup.writes(1).run(conn)
            async with db.transaction(conn):  # a savepoint: its wake-up waits for the outer commit
                await setup.writes(2).run(conn)
            assert await setup.noted() is None  # not committed yet
        assert await setup.noted() == ["1", "2"]
    await settle()
    assert setup.heard == [] and await setup.rows() == [1, 2]


async def test_a_rolled_back_db_transaction_wakes_nothing(setup: Setup) -> None:
    async with setup.pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="changed its mind"):
            async with db.transaction(conn):
                await setup.writes(1).run(conn)
                raise RuntimeError("changed its mind")
    await settle()
    assert await setup.noted() is None and setup.heard == [] and await setup.rows() == []


async def test_a_plain_transaction_and_a_detached_loop_notify_through_postgresql(setup: Setup) -> None:
    async with setup.pool.acquire() as conn, conn.transaction():  # the writer does not see the commit
        await setup.writes(1).run(conn)
        async with db.transaction(conn):  # a savepoint in it: its commit is not the transaction's
            await setup.writes(2).run(conn)
        assert await setup.noted() is None
    setup.announcer.detach(setup.loop)  # the loop stopped: another replica's must hear of the work
    await setup.writes(3).run(setup.pool)
    await settle()
    assert await setup.noted() is None
    assert setup.heard == ["1", "2", "3"] and await setup.rows() == [1, 2, 3]


async def test_a_task_started_in_a_db_transaction_does_not_inherit_it_once_ended(setup: Setup) -> None:
    """A task copies its context: written after the transaction it was started in ended, inside a
    plain transaction on the same connection, its wake-up is a NOTIFY, not a note to a list that
    was already called."""
    async with setup.pool.acquire() as conn:
        go = asyncio.get_running_loop().create_future()

        async def afterwards() -> None:
            await go
            async with conn.transaction():
                await setup.writes(1).run(conn)

        async with db.transaction(conn):
            task = asyncio.create_task(afterwards())
        go.set_result(None)
        await task
    await settle()
    assert await setup.noted() is None and setup.heard == ["1"]
