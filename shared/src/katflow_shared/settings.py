"""One settings object per service, read from the environment (prefix ``KATFLOW_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "katflow", "secret", "password"})


class ServiceSettings(BaseSettings):
    """Settings every katflow service shares. Services subclass it to add their own."""

    model_config = SettingsConfigDict(env_prefix="KATFLOW_", extra="ignore", frozen=True)

    environment: Literal["dev", "test", "prod"] = Field(
        "dev", description="dev and test allow development defaults; prod refuses placeholder secrets."
    )
    service_name: str = Field(
        "katflow", description="Name used in logs, CloudEvents source and consumer group."
    )
    http_host: str = Field("127.0.0.1", description="Interface the HTTP API binds to.")
    http_port: int = Field(8000, description="Port the HTTP API listens on.")
    log_level: str = Field("INFO", description="Minimum log level.")
    database_url: SecretStr = Field(
        SecretStr("postgresql://katflow:katflow@127.0.0.1:55432/katflow"),
        description="PostgreSQL DSN of this service's own database (add sslmode=require for TLS).",
    )
    database_pool_size: int = Field(10, description="Maximum connections in the asyncpg pool.")
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Kafka bootstrap servers, comma separated.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka transport security."
    )
    kafka_sasl_mechanism: str = Field("SCRAM-SHA-512", description="SASL mechanism when SASL is on.")
    kafka_sasl_username: str = Field("", description="SASL username.")
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="SASL password.")
    kafka_ssl_cafile: str = Field("", description="CA bundle for Kafka TLS (empty: system default).")
    kafka_replication_factor: int = Field(1, description="Replication factor for topics katflow creates.")
    topic_prefix: str = Field(
        "", description="Prefix for every topic name (isolates environments and test runs)."
    )
    outbox_poll_seconds: float = Field(
        1.0, description="Outbox relay polling fallback when no NOTIFY arrives."
    )
    outbox_batch_size: int = Field(500, description="Most outbox rows the relay publishes per batch.")
    consumer_max_attempts: int = Field(
        5, description="Attempts for an unclassified handler error before the message is dead-lettered."
    )
    consumer_backoff_max_seconds: float = Field(30.0, description="Cap of the retry backoff.")
    timer_poll_seconds: float = Field(0.5, description="How often due durable timers are looked for.")
    clock_offset_file: Path | None = Field(
        None, description="Tests only (refused in prod): file holding seconds to add to the wall clock."
    )
    shutdown_timeout_seconds: float = Field(20.0, description="Bound on graceful shutdown after SIGTERM.")

    @model_validator(mode="after")
    def _refuse_placeholders_outside_dev(self) -> ServiceSettings:
        if self.environment != "prod":
            return self
        password = self.database_url.get_secret_value().split("@")[0].rsplit(":", 1)[-1]
        if password in PLACEHOLDER_SECRETS:
            raise ValueError("KATFLOW_DATABASE_URL uses a placeholder password; set a real secret in prod")
        if self.kafka_security_protocol.startswith("SASL"):
            if self.kafka_sasl_password.get_secret_value() in PLACEHOLDER_SECRETS:
                raise ValueError("KATFLOW_KAFKA_SASL_PASSWORD is a placeholder; set a real secret in prod")
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"
