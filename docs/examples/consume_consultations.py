"""Print katflow's ConsultationRequested events: aiokafka + the CloudEvents SDK's Kafka binding.

    pip install aiokafka cloudevents
    python consume_consultations.py [BOOTSTRAP [TOPIC]]

Environment: KAFKA_BOOTSTRAP, KATFLOW_TOPIC, GROUP_ID, MAX_EVENTS (stop after that many; 0: never),
TIMEOUT_SECONDS (stop after that long; 0: never).
"""

import asyncio
import json
import os
import sys

from aiokafka import AIOKafkaConsumer
from cloudevents.v1.kafka import KafkaMessage, from_binary

BOOTSTRAP = (sys.argv[1:2] or [os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092")])[0]
TOPIC = (sys.argv[2:3] or [os.environ.get("KATFLOW_TOPIC", "katflow.intake.v1")])[0]
MAX_EVENTS = int(os.environ.get("MAX_EVENTS", "0"))
TIMEOUT = float(os.environ.get("TIMEOUT_SECONDS", "0"))


async def consume() -> None:
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=BOOTSTRAP,
        group_id=os.environ.get("GROUP_ID", "example-integration"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: set[str] = set()  # at-least-once delivery: a real integration stores handled ce_ids
    try:
        async for record in consumer:
            event = from_binary(KafkaMessage(dict(record.headers), record.key, record.value))
            if event["type"] == "io.katflow.ConsultationRequested.v1" and event["id"] not in seen:
                seen.add(event["id"])
                print(event["type"], event["id"], json.dumps(event.get_data()), flush=True)
            await consumer.commit()  # after handling: a crash before this means a redelivery
            if MAX_EVENTS and len(seen) >= MAX_EVENTS:
                break
    finally:
        await consumer.stop()


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(consume(), TIMEOUT or None))
    except TimeoutError:
        sys.exit(f"timed out after {TIMEOUT:g} s")
