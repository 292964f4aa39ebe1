"""A whole katflow stack for one test: three service processes, isolated topics and databases."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from katflow_shared.messaging.kafka import ensure_topics
from katflow_shared.roles import CARE_TEAM, Role, hash_api_key
from katflow_shared.settings import ServiceSettings
from katflow_tools.smtp_sink import SmtpSink
from katflow_tools.stack import (
    BACKEND,
    ServiceProcess,
    StackConfig,
    create_databases,
    destroy,
    free_port,
    service_ports,
)
from katflow_tools.topic_reader import Records, read_topics

from .infra import Infra


@dataclass
class Stack:
    infra: Infra
    cfg: StackConfig
    sink: SmtpSink
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    api_keys: dict[str, str] = field(default_factory=dict)  # label -> key (see make_api_keys)

    def auth_headers(self, role: str = "staff") -> dict[str, str]:
        """Bearer credentials of a test API key: a Role value (that role only), "staff" (the care
        team's roles) or "all" (every role)."""
        return {"Authorization": f"Bearer {self.api_keys[role]}"}

    def person_headers(self, staff_id: str) -> dict[str, str]:
        """Bearer credentials of the test key whose subject is ``staff_id`` (SUBJECTS): that person."""
        return self.auth_headers(next(k for k, s in SUBJECTS.items() if s == staff_id and k != "staff"))

    def topic(self, name: str) -> str:
        return self.cfg.topic_prefix + name

    def url(self, service: str) -> str:
        return self.cfg.url(service)

    def settings(self) -> ServiceSettings:
        return ServiceSettings(kafka_bootstrap=self.infra.kafka_bootstrap, topic_prefix=self.cfg.topic_prefix)

    async def db(self, service: str) -> asyncpg.Connection:
        return await asyncpg.connect(self.cfg.database_url(service))

    async def fetchval(self, service: str, sql: str, *args: Any) -> Any:
        conn = await self.db(service)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def fetch(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.db(service)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    def start(self, *names: str) -> None:
        for name in names or BACKEND:  # the console only where a test names it
            self.services[name] = ServiceProcess(self.cfg, name).start()
        for name in names or BACKEND:
            self.services[name].wait_ready()

    def stop(self) -> None:
        for service in self.services.values():
            service.terminate(timeout=20)
        self.sink.stop()


# The subject (the key's name) of each test key that acts as a person: a staff id, the same in
# scheduling's clinicians, the notifications directory and the actor fields staff actions record.
# "staff" (every care-team role) is clin-1 too; other keys are machines, named test-<label>.
SUBJECTS = {
    "staff": "clin-1",
    Role.CLINICIAN.value: "clin-1",
    Role.THERAPIST.value: "ther-1",
    Role.INTAKE_COORDINATOR.value: "coord-1",
    Role.ADMIN.value: "admin-1",
}


def make_api_keys() -> tuple[dict[str, str], str]:
    """Fresh API keys for one stack: label -> key, and KATFLOW_API_KEYS (hashes only) for the services."""
    grants: dict[str, list[str]] = {r.value: [r.value] for r in Role}
    grants["staff"] = [r.value for r in CARE_TEAM]
    grants["all"] = [r.value for r in Role]
    keys = {label: f"kfk_test_{label}_{secrets.token_urlsafe(24)}" for label in grants}
    config = {
        hash_api_key(keys[label]): {"name": SUBJECTS.get(label, f"test-{label}"), "roles": roles}
        for label, roles in grants.items()
    }
    return keys, json.dumps(config)


CREATED: list[StackConfig] = []  # this session's stacks: their topics and databases go at its end


async def destroy_created() -> None:
    """Delete the topics and drop the databases of every stack this session made (a warning, not a
    failure, when the broker or the database cannot be reached at the end)."""
    while CREATED:
        cfg = CREATED.pop()
        try:
            await destroy(cfg)
        except Exception as exc:  # noqa: BLE001 - cleanup must not fail the run
            warnings.warn(f"could not clean up {cfg.topic_prefix}: {exc!r}", stacklevel=1)


async def make_stack(infra: Infra, run_root: Path, **extra_env: str) -> Stack:
    """A stack for one test. Services get test API keys (``Stack.auth_headers``) and public-form
    limits (per address, per destination, per hour) high enough for load tests; ``extra_env``
    overrides any of them."""
    tag = f"t{uuid.uuid4().hex[:10]}"
    api_keys, api_keys_env = make_api_keys()
    extra_env = {
        "KATFLOW_API_KEYS": api_keys_env,
        "KATFLOW_PUBLIC_RATE_LIMIT_PER_MINUTE": "1000000",
        "KATFLOW_PUBLIC_FORM_PER_DESTINATION_PER_DAY": "1000000",
        "KATFLOW_PUBLIC_FORM_PER_HOUR": "1000000",
        **extra_env,
    }
    sink = SmtpSink(port=free_port()).start()
    cfg = StackConfig(
        run_dir=run_root / tag,
        kafka_bootstrap=infra.kafka_bootstrap,
        pg_admin_dsn=infra.pg_admin_dsn,
        smtp_port=sink.port,
        topic_prefix=f"{tag}.",
        db_prefix=f"{tag}_",
        ports=service_ports(),
        extra_env=extra_env,
    )
    CREATED.append(cfg)
    await create_databases(cfg)
    await ensure_topics(ServiceSettings(kafka_bootstrap=infra.kafka_bootstrap, topic_prefix=cfg.topic_prefix))
    return Stack(infra, cfg, sink, api_keys=api_keys)


def consultation_request(n: int = 0, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient": {
            "given_name": f"Given{n}",
            "family_name": f"Family{n}",
            "date_of_birth": "1980-02-03",
            "email": f"patient{n}@example.org",
            "time_zone": "America/Chicago",
        },
        "consent": {"email": True, "sms": False},
        "indication": "persistent low mood",
        "preferred_route": "iv",
    }
    body.update(overrides)
    return body


async def post_requests(
    stack: Stack, count: int, concurrency: int = 20, rate: float | None = None
) -> list[dict[str, Any]]:
    """POST ``count`` consultation requests (at most ``rate`` per second); return the 202 bodies,
    each with its patient's email. Transport errors and 5xx are retried with the same
    Idempotency-Key, as a careful client would while a service restarts."""
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(n: int) -> dict[str, Any]:
            if rate:
                await asyncio.sleep(n / rate)
            async with sem:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    try:
                        resp = await http.post(
                            f"{stack.url('intake')}/v1/consultation-requests",
                            json=consultation_request(n),
                            headers={"Idempotency-Key": f"{stack.cfg.topic_prefix}{n}"},
                        )
                    except httpx.TransportError:
                        await asyncio.sleep(0.5)  # the service is being restarted by a fault test
                        continue
                    if resp.status_code == 202:
                        return {**resp.json(), "email": f"patient{n}@example.org"}
                    if resp.status_code < 500:
                        raise AssertionError(f"{resp.status_code} {resp.text}")
                    await asyncio.sleep(1)
                raise AssertionError(f"request {n} not accepted within 120 s")

        return list(await asyncio.gather(*(one(n) for n in range(count))))


async def read_topic(
    bootstrap: str, topic: str, until: Callable[[Records], bool], within: float = 60
) -> Records:
    """Read a topic from the beginning with an independent consumer until ``until(records)``."""
    return await read_topics(bootstrap, [topic], until, within)


async def wait_for(predicate: Callable[[], Any], within: float = 60, interval: float = 0.5) -> Any:
    """Poll an async predicate until it returns something truthy; return its last value."""
    deadline = time.monotonic() + within
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)
