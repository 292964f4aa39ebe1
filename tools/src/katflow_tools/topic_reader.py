"""Reading workflow topics from the beginning with a consumer of one's own (the demo, the tests)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord

Records = list[ConsumerRecord[bytes, bytes]]


async def read_topics(
    bootstrap: str,
    topics: Sequence[str],
    until: Callable[[Records], bool],
    within: float = 60,
    group: str = "test",
) -> Records:
    """Read ``topics`` from the beginning with an independent consumer (a fresh group named after
    ``group``, nothing committed) until ``until(records)`` holds or ``within`` seconds pass."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"{group}-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: Records = []
    deadline = time.monotonic() + within
    try:
        while not until(records) and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records
