"""The benchmark's consume → transaction → produce baseline on real Kafka and PostgreSQL: every
record is its own first delivery, so every transaction writes its rows (and waits for its commit's
flush) — the loop the pipeline's hops are compared with, not a cheaper one."""

from __future__ import annotations

import time
import uuid

import asyncpg

from bench import baselines
from katflow_shared.settings import ServiceSettings
from katflow_tools.databases import scratch_database
from tests.support.infra import Infra


async def test_the_loop_moves_every_record_through_a_transaction_that_writes(infra: Infra) -> None:
    async with scratch_database(infra.pg_admin_dsn, "baseline_it") as db:
        settings = ServiceSettings(environment="test", kafka_bootstrap=infra.kafka_bootstrap)
        result = await baselines.consume_txn_produce(
            settings, f"bl{uuid.uuid4().hex[:10]}.", db.dsn, 300, cpu_now=time.process_time
        )
        assert result.records == 300
        assert result.cpu_seconds is not None and result.cpu_seconds > 0  # read at the loop's two ends
        assert result.as_json()["cpu_ms_per_record"] > 0
        # the loop's own check passed (it raises otherwise); the rows are there to see as well
        conn = await asyncpg.connect(db.dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM inbox") == 300
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 300
        finally:
            await conn.close()
