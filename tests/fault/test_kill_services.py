"""kill -9 of each service in turn while 500 consultation requests flow: 0 lost, 0 duplicated."""

from __future__ import annotations

import asyncio

from tests.support.ledger import assert_exactly_once, settle
from tests.support.stack import Stack, post_requests

REQUESTS = 500


async def test_kill_each_service_during_load(stack: Stack) -> None:
    stack.start()
    load = asyncio.create_task(post_requests(stack, REQUESTS, concurrency=10, rate=40))
    for name in ("intake", "scheduling", "notifications"):
        await asyncio.sleep(3)
        stack.services[name].kill()  # SIGKILL: no shutdown hooks, no flush, no commit
        print(f"killed {name} -9")
        await asyncio.sleep(1)
        await asyncio.to_thread(stack.start, name)
    accepted = await load
    assert len({a["course_id"] for a in accepted}) == REQUESTS
    assert_exactly_once(await settle(stack, accepted))
