"""Requests while PostgreSQL restarts: each is answered 202, or 503 with Retry-After — never 500."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx

from tests.support.stack import Stack, consultation_request


async def test_public_requests_during_postgres_restarts_never_get_500(stack: Stack) -> None:
    stack.start("intake")
    answers: list[tuple[int, str | None]] = []
    stop = asyncio.Event()

    async def client(n: int) -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            while not stop.is_set():
                try:
                    resp = await http.post(
                        f"{stack.url('intake')}/v1/consultation-requests",
                        json=consultation_request(n),
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                except httpx.TransportError:
                    answers.append((0, None))
                    await asyncio.sleep(0.2)
                    continue
                answers.append((resp.status_code, resp.headers.get("Retry-After")))

    clients = [asyncio.create_task(client(n)) for n in range(12)]
    try:
        for _ in range(3):
            await asyncio.sleep(2)
            await asyncio.to_thread(stack.infra.run, "pg-restart")
        await asyncio.sleep(3)
    finally:
        stop.set()
        await asyncio.gather(*clients)

    statuses = Counter(status for status, _ in answers)
    print(f"answers: {dict(statuses)}")
    assert set(statuses) <= {202, 503}, (statuses, stack.services["intake"].log_tail(80))
    assert statuses[503] > 0  # the restarts were seen by requests (else this proves nothing)
    assert all(retry_after == "1" for status, retry_after in answers if status == 503)
    assert answers[-1][0] == 202  # recovered
    assert "Exception in ASGI application" not in stack.services["intake"].log_path.read_text()
