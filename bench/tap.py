"""A topic read from its start, alongside the run: what the services published and when."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from .stack import BenchStack


class Tap:
    """Reads ``topic`` in a task of its own from start() to stop(), in a consumer group of its own;
    a subclass keeps what it wants of each record (``_take``)."""

    def __init__(
        self,
        stack: BenchStack,
        topic: str,
        group: str,
        poll_ms: int,
        name: str | None = None,
        fetch_max_wait_ms: int = 500,  # aiokafka's defaults
        fetch_min_bytes: int = 1,
    ) -> None:
        self._consumer = AIOKafkaConsumer(
            stack.prefix + topic,
            bootstrap_servers=stack.cfg.kafka_bootstrap,
            group_id=f"{group}-{uuid.uuid4()}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            fetch_max_wait_ms=fetch_max_wait_ms,
            fetch_min_bytes=fetch_min_bytes,
        )
        self._poll_ms = poll_ms
        self._name = name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def _run(self) -> None:
        while True:
            for batch in (await self._consumer.getmany(timeout_ms=self._poll_ms)).values():
                for r in batch:
                    self._take(r)

    def _take(self, record: ConsumerRecord[bytes, bytes]) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self._consumer.stop()
