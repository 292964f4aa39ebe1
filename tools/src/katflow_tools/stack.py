"""Start the services (and the staff console) as real OS processes (local `make up`, e2e and fault tests)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from katflow_shared.contracts.topics import ALL_TOPICS
from katflow_shared.messaging.kafka import delete_topics
from katflow_shared.roles import DEV_API_KEY, Role, hash_api_key

BACKEND = ("intake", "scheduling", "notifications")  # what the console calls
SERVICES = (*BACKEND, "console")
DEFAULT_PORTS = {"intake": 8001, "scheduling": 8002, "notifications": 8003, "console": 8004}


@dataclass
class StackConfig:
    run_dir: Path
    kafka_bootstrap: str
    pg_admin_dsn: str
    smtp_port: int = 1025
    topic_prefix: str = ""
    db_prefix: str = "katflow_"
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    extra_env: dict[str, str] = field(default_factory=dict)  # KATFLOW_* settings for every service

    def database_url(self, service: str) -> str:
        parts = urlsplit(self.pg_admin_dsn)
        return urlunsplit(parts._replace(path=f"/{self.db_prefix}{service}"))

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


async def create_databases(cfg: StackConfig) -> None:
    conn = await asyncpg.connect(cfg.pg_admin_dsn)
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for service in SERVICES:
            name = f"{cfg.db_prefix}{service}"
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def destroy(cfg: StackConfig) -> None:
    """Drop a stack's databases and delete its topics (a test's or benchmark's own, by prefix)."""
    await delete_topics(cfg.kafka_bootstrap, [cfg.topic_prefix + t.name for t in ALL_TOPICS])
    conn = await asyncpg.connect(cfg.pg_admin_dsn)
    try:
        for service in SERVICES:
            await conn.execute(f'DROP DATABASE IF EXISTS "{cfg.db_prefix}{service}" WITH (FORCE)')
    finally:
        await conn.close()


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports: all held open while they are chosen, since ports picked one
    after the other can repeat (two services given one port: the second cannot bind, and the first
    answers its readiness check)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def free_port() -> int:
    return free_ports(1)[0]


def service_ports() -> dict[str, int]:
    """A distinct free port for each service."""
    return dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))


class ServiceProcess:
    def __init__(self, cfg: StackConfig, name: str) -> None:
        self.cfg, self.name = cfg, name
        self.log_path = cfg.run_dir / "logs" / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """The process's environment without its KATFLOW_* variables (the stack's own settings,
        then ``extra_env``), and last the addresses and ports this stack gives the service."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("KATFLOW_")}
        env.update(
            KATFLOW_ENVIRONMENT="dev",
            KATFLOW_SHUTDOWN_TIMEOUT_SECONDS="10",
            # patient messages link to the patient's page, which notifications serves under /portal
            KATFLOW_PORTAL_URL=f"{self.cfg.url('notifications')}/portal",
            # the development key (every role; refused in prod): `katflow demo` and local curl use it
            KATFLOW_API_KEYS=json.dumps(
                {hash_api_key(DEV_API_KEY): {"name": "dev", "roles": [r.value for r in Role]}}
            ),
        )
        env.update(self.cfg.extra_env)
        env.update(
            KATFLOW_HTTP_PORT=str(self.cfg.ports[self.name]),
            KATFLOW_DATABASE_URL=self.cfg.database_url(self.name),
            KATFLOW_KAFKA_BOOTSTRAP=self.cfg.kafka_bootstrap,
            KATFLOW_TOPIC_PREFIX=self.cfg.topic_prefix,
            KATFLOW_SMTP_PORT=str(self.cfg.smtp_port),
        )
        env.update(self.links())
        return env

    def links(self) -> dict[str, str]:
        """Where the services are, for the console (it calls them as the person signed in) and for
        notifications' staff links to it; http on loopback, so the console's cookie is not Secure."""
        urls = {f"KATFLOW_{name.upper()}_URL": self.cfg.url(name) for name in self.cfg.ports}
        if "console" not in self.cfg.ports:
            return urls
        return urls | {
            "KATFLOW_STAFF_CONSOLE_URL": self.cfg.url("console"),
            "KATFLOW_CONSOLE_COOKIE_SECURE": "false",
        }

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"katflow_{self.name}"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited; log tail:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.cfg.url(self.name)}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready in {timeout}s; log tail:\n{self.log_tail()}")

    def kill(self) -> None:
        """kill -9: no shutdown hooks run."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            assert self.proc is not None
            self.proc.wait()

    def terminate(self, timeout: float = 30) -> int:
        if not self.alive():
            return self.proc.returncode if self.proc else 0
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
