"""aiokafka client construction from settings (one place for security options)."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from ..contracts.topics import ALL_TOPICS
from ..settings import ServiceSettings


def client_options(settings: ServiceSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if "SSL" in settings.kafka_security_protocol:
        options["ssl_context"] = ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
    if settings.kafka_security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """Idempotent producer: acks=all, no duplicates from internal retries, per-partition order."""
    return AIOKafkaProducer(
        **client_options(settings),
        client_id=settings.service_name,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=15000,
    )


def make_consumer(settings: ServiceSettings, group_id: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **client_options(settings),
        client_id=settings.service_name,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=500,
        fetch_max_wait_ms=settings.consumer_fetch_wait_ms,
        fetch_min_bytes=settings.consumer_fetch_min_bytes,
        session_timeout_ms=15000,
        heartbeat_interval_ms=3000,
    )


async def ensure_topics(settings: ServiceSettings) -> list[str]:
    """Create every katflow topic that does not exist yet; return the ones created."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                settings.topic(spec.name),
                num_partitions=spec.partitions,
                replication_factor=settings.kafka_replication_factor,
                topic_configs={"retention.ms": str(spec.retention_ms)},
            )
            for spec in ALL_TOPICS
            if settings.topic(spec.name) not in existing
        ]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
        return [t.name for t in wanted]
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, names: list[str]) -> None:
    """Delete those of ``names`` that exist (test and benchmark runs cleaning up after themselves)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if doomed := [n for n in names if n in existing]:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
