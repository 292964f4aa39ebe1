"""The stack under test: the three services as OS processes on real Kafka and PostgreSQL, an isolated
topic prefix and databases, the stamping SMTP sink, and optional second replicas."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts.topics import WORKFLOW_TOPICS
from katflow_shared.messaging.kafka import ensure_topics
from katflow_shared.roles import Role, hash_api_key
from katflow_shared.settings import ServiceSettings
from katflow_tools.stack import (
    BACKEND,
    ServiceProcess,
    StackConfig,
    create_databases,
    destroy,
    free_port,
    free_ports,
)
from katflow_tools.time_machine import TimeMachine

from .sink import SinkProcess, SinkReader


@dataclass
class BenchStack:
    cfg: StackConfig
    sink: SinkProcess
    mail: SinkReader
    clock: TimeMachine | None  # only the course phase's stack runs on a movable clock
    api_key: str
    processes: dict[str, list[ServiceProcess]] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return self.cfg.topic_prefix

    def url(self, service: str) -> str:
        return self.cfg.url(service)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def settings(self) -> ServiceSettings:
        return ServiceSettings(kafka_bootstrap=self.cfg.kafka_bootstrap, topic_prefix=self.prefix)

    async def db(self, service: str) -> asyncpg.Connection:
        return await asyncpg.connect(self.cfg.database_url(service))

    def start(self) -> None:
        for name in BACKEND:
            self.processes[name] = [ServiceProcess(self.cfg, name).start()]
        for name in BACKEND:
            self.processes[name][0].wait_ready()

    def add_replica(self, name: str) -> ServiceProcess:
        """Another process of ``name``: same database, same topics, same consumer group."""
        n = len(self.processes[name]) + 1
        cfg = replace(
            self.cfg, run_dir=self.cfg.run_dir / f"replica{n}", ports={**self.cfg.ports, name: free_port()}
        )
        proc = ServiceProcess(cfg, name).start()
        self.processes[name].append(proc)
        return proc

    def pids(self) -> dict[str, list[int]]:
        return {name: [p.pid for p in procs if p.alive()] for name, procs in self.processes.items()}

    def all_alive(self) -> bool:
        return all(p.alive() for procs in self.processes.values() for p in procs)

    def stop(self) -> None:
        """SIGTERM to every service process at once (each drains in parallel), then the sink."""
        procs = [p for ps in self.processes.values() for p in ps]
        with ThreadPoolExecutor(max_workers=max(1, len(procs))) as pool:
            list(pool.map(lambda p: p.terminate(timeout=20), procs))
        self.sink.stop()

    async def destroy(self) -> None:
        """Drop the run's databases and topics (they are the benchmark's own, by prefix)."""
        await destroy(self.cfg)

    async def end_offsets(self) -> int:
        """Records on the workflow topics so far (sum of partition end offsets)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.cfg.kafka_bootstrap)
        await consumer.start()
        try:
            tps = [
                TopicPartition(self.prefix + spec.name, p)
                for spec in WORKFLOW_TOPICS
                for p in range(spec.partitions)
            ]
            offsets = await consumer.end_offsets(tps)
            return int(sum(offsets.values()))
        finally:
            await consumer.stop()

    async def committed(self) -> int:
        """Records the services' consumer groups have handled and committed (sum over groups)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.cfg.kafka_bootstrap)
        await admin.start()
        try:
            total = 0
            for service in BACKEND:
                offsets = await admin.list_consumer_group_offsets(f"katflow-{service}-workflow")
                total += sum(
                    max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic.startswith(self.prefix)
                )
            return total
        finally:
            await admin.close()

    async def group_members(self, service: str) -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.cfg.kafka_bootstrap)
        await admin.start()
        try:
            described = await admin.describe_consumer_groups([f"katflow-{service}-workflow"])
            groups = described[0].groups if described else []
            return sum(len(g[5]) for g in groups) if groups else 0
        finally:
            await admin.close()


def bench_api_key() -> tuple[str, str]:
    """A fresh key with every role, and KATFLOW_API_KEYS (its hash only) for the services."""
    key = f"kfk_bench_{secrets.token_urlsafe(24)}"
    config = {hash_api_key(key): {"name": "bench", "roles": [r.value for r in Role]}}
    return key, json.dumps(config)


def bench_clinic(path: Path) -> Path:
    """The default clinic with 21 more consultants (24), a 366-day horizon and open at weekends too,
    written to ``path``: ~70,000 consultation slots. A long profile on a fast machine sends ~50,000
    requests, as many as the weekdays alone hold; once the calendar is full every booking is
    waitlisted and no request completes (the run says so: ``Tracker.calendar_full``). Weekends add
    days, not bookings per day, so a booking's search reads as many bookings as before."""
    clinic = json.loads(DEFAULT_CLINIC.read_text())
    clinic["version"] += "+bench"
    clinic["booking_horizon_days"] = 366
    hours = clinic["opening_hours"]["mon"]
    clinic["opening_hours"] |= {"sat": hours, "sun": hours}
    clinic["clinicians"] += [
        {"id": f"cons-{i:02d}", "display_name": f"Consultant {i}", "roles": ["consultation"]}
        for i in range(4, 25)
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(clinic, indent=2))
    return path


async def make_bench_stack(
    kafka_bootstrap: str,
    pg_admin_dsn: str,
    run_root: Path,
    movable_clock: bool = False,
    extra_env: dict[str, str] | None = None,
) -> BenchStack:
    """A stack with its own topic prefix and databases. ``movable_clock`` runs the services on
    KATFLOW_CLOCK_OFFSET_FILE (the course phase needs it; it costs a file read per clock reading,
    so the load phases run on a stack with the production wall clock)."""
    tag = f"b{uuid.uuid4().hex[:10]}"
    run_dir = run_root / tag
    api_key, api_keys_env = bench_api_key()
    clock = TimeMachine(run_dir / "clock-offset.txt") if movable_clock else None
    clock_env = {"KATFLOW_CLOCK_OFFSET_FILE": str(clock.path)} if clock else {}
    sink_port, *ports = free_ports(1 + len(BACKEND))  # chosen together: the sink binds later
    sink = SinkProcess(sink_port, run_dir / "mail.tsv").start()
    cfg = StackConfig(
        run_dir=run_dir,
        kafka_bootstrap=kafka_bootstrap,
        pg_admin_dsn=pg_admin_dsn,
        smtp_port=sink.port,
        topic_prefix=f"{tag}.",
        db_prefix=f"{tag}_",
        ports=dict(zip(BACKEND, ports, strict=True)),
        extra_env={
            "KATFLOW_API_KEYS": api_keys_env,
            "KATFLOW_PUBLIC_RATE_LIMIT_PER_MINUTE": "100000000",
            "KATFLOW_PUBLIC_FORM_PER_DESTINATION_PER_DAY": "100000000",
            "KATFLOW_PUBLIC_FORM_PER_HOUR": "100000000",
            # the default clinic (3 consultants, 120 days) is fully booked by ~2,000 requests, after
            # which consultation requests are waitlisted: the long profile sends ~12,000
            "KATFLOW_CLINIC_CONFIG": str(bench_clinic(run_dir / "clinic.json")),
            **clock_env,
            **(extra_env or {}),
        },
    )
    await sink.wait_ready()
    await create_databases(cfg)
    await ensure_topics(ServiceSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=cfg.topic_prefix))
    return BenchStack(cfg, sink, SinkReader(sink.out), clock, api_key)


async def wait_until(predicate: object, within: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(interval)
    return False
