"""The broker away for 15 s, and PostgreSQL restarted, during load: 0 lost, 0 duplicated."""

from __future__ import annotations

import asyncio

from tests.support.ledger import assert_exactly_once, settle
from tests.support.stack import Stack, post_requests


async def test_broker_stopped_for_15s_during_load(stack: Stack) -> None:
    stack.start()
    load = asyncio.create_task(post_requests(stack, 300, concurrency=10, rate=15))
    await asyncio.sleep(3)
    await asyncio.to_thread(stack.infra.run, "kafka-stop")
    print("kafka stopped")
    await asyncio.sleep(15)
    # The HTTP API kept accepting while the broker was away: the outbox holds the events.
    during = await stack.fetchval("intake", "SELECT count(*) FROM outbox WHERE published_at IS NULL")
    print(f"outbox rows waiting for the broker: {during}")
    assert during > 0
    await asyncio.to_thread(stack.infra.run, "kafka-start")
    print("kafka started")
    accepted = await load
    assert_exactly_once(await settle(stack, accepted, within=240))


async def test_postgres_restarted_during_load(stack: Stack) -> None:
    stack.start()
    load = asyncio.create_task(post_requests(stack, 300, concurrency=10, rate=30))
    for _ in range(2):
        await asyncio.sleep(3)
        await asyncio.to_thread(stack.infra.run, "pg-restart")
        print("postgres restarted")
    accepted = await load
    assert_exactly_once(await settle(stack, accepted))
    for service in stack.services.values():
        assert service.alive(), service.log_tail()
