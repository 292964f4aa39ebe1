"""Finding real infrastructure for tests: env vars → Docker (testcontainers) → local provisioning;
the identity provider (Keycloak): env var → local provisioning."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from katflow_tools import identity

REPO = Path(__file__).resolve().parents[2]
LOCAL_SCRIPT = REPO / "deploy" / "local" / "infra.sh"
KEYCLOAK_SCRIPT = REPO / "deploy" / "local" / "keycloak.sh"


@dataclass
class Infra:
    kafka_bootstrap: str
    pg_admin_dsn: str
    source: str  # "env", "docker" or "local"
    control: Path | None = None  # script that can stop/start the broker and database

    def run(self, action: str) -> None:
        """Stop or start a piece of infrastructure (fault tests): kafka-stop, pg-restart, ..."""
        if self.control is None:
            raise RuntimeError(
                f"infrastructure from {self.source} cannot be stopped or started by tests; "
                "set KATFLOW_TEST_INFRA_CONTROL to a script taking kafka-stop/kafka-start/pg-restart"
            )
        subprocess.run([str(self.control), action], check=True, timeout=180)


def _from_env() -> Infra | None:
    kafka = os.environ.get("KATFLOW_TEST_KAFKA_BOOTSTRAP")
    pg = os.environ.get("KATFLOW_TEST_PG_ADMIN_DSN")
    if not (kafka and pg):
        return None
    control = os.environ.get("KATFLOW_TEST_INFRA_CONTROL")
    return Infra(kafka, pg, "env", Path(control) if control else None)


def _docker_reachable() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # no engine: fall through to local provisioning
        return False


# The images testcontainers starts; where no registry answers, the stand-ins deploy/local/docker.sh
# builds (make test-testcontainers: katflow/offline-kafka:4.1.1, katflow/offline-postgres:15).
KAFKA_IMAGE = os.environ.get("KATFLOW_TEST_KAFKA_IMAGE", "confluentinc/cp-kafka:7.6.0")
PG_IMAGE = os.environ.get("KATFLOW_TEST_PG_IMAGE", "postgres:16")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _apache_kafka(image: str) -> tuple[Any, str]:
    """A one-node KRaft broker from an image configured as apache/kafka is (KAFKA_* variables):
    apache/kafka or katflow's offline stand-in. The host port equals the container's, so the one
    advertised address works inside the container and on the host."""
    from testcontainers.core.container import DockerContainer  # type: ignore[import-untyped]
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy  # type: ignore[import-untyped]

    port = _free_port()
    env = {
        "CLUSTER_ID": "lF5l-7YVQoODHwcxgD-mhA",
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{port},CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://127.0.0.1:{port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }
    container = DockerContainer(image)
    container.ports[f"{port}/tcp"] = ("127.0.0.1", port)  # loopback only (with_bind_ports: 0.0.0.0)
    for key, value in env.items():
        container = container.with_env(key, value)
    started = LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(180)
    return container.waiting_for(started).start(), f"127.0.0.1:{port}"


def _from_docker() -> tuple[Infra, list[object]]:
    from testcontainers.postgres import PostgresContainer  # type: ignore[import-untyped]

    if KAFKA_IMAGE.startswith("confluentinc/"):
        from testcontainers.kafka import KafkaContainer  # type: ignore[import-untyped]

        kafka = KafkaContainer(KAFKA_IMAGE).with_kraft().start()
        bootstrap = kafka.get_bootstrap_server()
    else:
        kafka, bootstrap = _apache_kafka(KAFKA_IMAGE)
    pg = PostgresContainer(PG_IMAGE, username="katflow", password="katflow", dbname="postgres").start()
    dsn = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
    return Infra(bootstrap, dsn, "docker"), [kafka, pg]


def _exports(script: Path) -> dict[str, str]:
    """The variables ``script env`` exports."""
    out = subprocess.run([str(script), "env"], check=True, capture_output=True, text=True).stdout
    env = dict(
        line.removeprefix("export ").split("=", 1) for line in out.splitlines() if line.startswith("export ")
    )
    return {k: shlex.split(v)[0] if v else v for k, v in env.items()}


def _from_local() -> Infra:
    subprocess.run([str(LOCAL_SCRIPT), "up"], check=True, timeout=900)
    env = _exports(LOCAL_SCRIPT)
    return Infra(env["KATFLOW_KAFKA_BOOTSTRAP"], env["KATFLOW_PG_ADMIN_DSN"], "local", LOCAL_SCRIPT)


def find_infra() -> tuple[Infra, list[object]]:
    """Return the infrastructure to test against, and containers to stop afterwards."""
    if (infra := _from_env()) is not None:
        return infra, []
    if _docker_reachable():
        return _from_docker()
    return _from_local(), []


@dataclass
class Idp:
    """A Keycloak serving katflow's ``clinic`` realm (deploy/local/keycloak/clinic-realm.json)."""

    url: str  # e.g. http://127.0.0.1:18080
    source: str  # "env" or "local"
    realm: str = "clinic"

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{self.realm}"

    def auth_env(self) -> dict[str, str]:
        """The services' KATFLOW_AUTH_* settings for this realm, as ``make up`` gives them."""
        return identity.auth_env({"KATFLOW_KEYCLOAK_ISSUER": self.issuer})

    def token(self, username: str, client_id: str = "katflow-cli") -> str:
        """An access token for a demo user (password grant; the realm's dev password)."""
        return identity.password_grant(self.issuer, username, f"dev-{username}", client_id)


def find_idp() -> Idp:
    """``KATFLOW_TEST_KEYCLOAK_URL`` (a Keycloak with the clinic realm imported), else the local
    provisioning's (started, and installed on first use, by deploy/local/keycloak.sh)."""
    if url := os.environ.get("KATFLOW_TEST_KEYCLOAK_URL"):
        return Idp(url.rstrip("/"), "env")
    subprocess.run([str(KEYCLOAK_SCRIPT), "up"], check=True, timeout=900)
    return Idp(_exports(KEYCLOAK_SCRIPT)["KATFLOW_KEYCLOAK_URL"], "local")
