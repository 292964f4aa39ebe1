"""Finding real infrastructure for tests: env vars → Docker (testcontainers) → local provisioning;
the identity provider (Keycloak): env var → local provisioning."""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

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


def _from_docker() -> tuple[Infra, list[object]]:
    from testcontainers.kafka import KafkaContainer  # type: ignore[import-untyped]
    from testcontainers.postgres import PostgresContainer  # type: ignore[import-untyped]

    kafka = KafkaContainer("confluentinc/cp-kafka:7.6.0").with_kraft().start()
    pg = PostgresContainer("postgres:16", username="katflow", password="katflow", dbname="postgres").start()
    dsn = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
    return Infra(kafka.get_bootstrap_server(), dsn, "docker"), [kafka, pg]


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
