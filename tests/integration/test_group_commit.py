"""GroupCommit against a real PostgreSQL: concurrent submissions share transactions, each caller
returns only once its item is committed, a failing group fails every member and writes none of it,
and a cancelled writer neither loses nor duplicates the others' items."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from katflow_shared.db import create_pool
from katflow_shared.group_commit import GroupCommit
from tests.support.infra import Infra


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    name = f"group_it_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.pg_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    p = await create_pool(urlunsplit(urlsplit(infra.pg_admin_dsn)._replace(path=f"/{name}")), 4)
    try:
        await p.execute("CREATE TABLE items (item int PRIMARY KEY, txid bigint NOT NULL)")
        yield p
    finally:
        await p.close()
        await admin.execute(f'DROP DATABASE "{name}"')
        await admin.close()


async def insert(conn: asyncpg.Connection, items: Sequence[int]) -> None:
    for item in items:
        await conn.execute("INSERT INTO items VALUES ($1, txid_current())", item)


async def test_concurrent_items_share_transactions_and_each_caller_sees_its_own_committed(
    pool: asyncpg.Pool,
) -> None:
    async def slow_insert(conn: asyncpg.Connection, items: Sequence[int]) -> None:
        await insert(conn, items)
        await asyncio.sleep(0.05)  # while this group commits, the others queue

    group = GroupCommit(pool, slow_insert)

    async def submit_and_check(item: int) -> None:
        await group.submit(item)
        assert await pool.fetchval("SELECT count(*) FROM items WHERE item = $1", item) == 1

    await asyncio.gather(*(submit_and_check(i) for i in range(40)))
    assert await pool.fetchval("SELECT count(*) FROM items") == 40
    transactions = await pool.fetchval("SELECT count(DISTINCT txid) FROM items")
    assert transactions <= 3, transactions  # one for the first item, then the ones queued behind it


async def test_a_lone_item_is_written_at_once(pool: asyncpg.Pool) -> None:
    group = GroupCommit(pool, insert)
    await asyncio.wait_for(group.submit(1), timeout=2)
    assert await pool.fetchval("SELECT count(*) FROM items") == 1


async def test_a_failing_group_fails_every_member_and_writes_nothing_of_it(pool: asyncpg.Pool) -> None:
    gate = asyncio.Event()

    async def gated(conn: asyncpg.Connection, items: Sequence[int]) -> None:
        await gate.wait()
        await insert(conn, items)

    group = GroupCommit(pool, gated)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0.01)  # 1 is being written; 2 and 2 again queue behind it as one group
    others = [asyncio.create_task(group.submit(2)), asyncio.create_task(group.submit(2))]
    await asyncio.sleep(0.01)
    gate.set()
    await first
    results = await asyncio.gather(*others, return_exceptions=True)
    assert all(isinstance(r, asyncpg.UniqueViolationError) for r in results), results
    assert [r["item"] for r in await pool.fetch("SELECT item FROM items")] == [1]
    await group.submit(3)  # the next group is unaffected
    assert await pool.fetchval("SELECT count(*) FROM items") == 2


async def test_a_cancelled_writer_drops_its_own_item_and_the_others_are_written_once(
    pool: asyncpg.Pool,
) -> None:
    gate = asyncio.Event()

    async def gated(conn: asyncpg.Connection, items: Sequence[int]) -> None:
        if 1 in items:
            await gate.wait()  # the writer of item 1 hangs until cancelled
        await insert(conn, items)

    group = GroupCommit(pool, gated)
    writer = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0.01)
    waiting = [asyncio.create_task(group.submit(i)) for i in (2, 3)]
    await asyncio.sleep(0.01)
    writer.cancel()
    await asyncio.gather(*waiting)
    with pytest.raises(asyncio.CancelledError):
        await writer
    assert sorted(r["item"] for r in await pool.fetch("SELECT item FROM items")) == [2, 3]
