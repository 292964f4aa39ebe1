"""One settings object per service, read from the environment (prefix ``KATFLOW_``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import (
    BaseModel,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from .roles import DEV_API_KEY, ApiKey, hash_api_key

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "katflow", "secret", "password"})
# what a placeholder is once case and punctuation are gone: CHANGEME, Change-Me, <change_me>, "change me"
PLACEHOLDER_WORDS = frozenset(
    {"changeme", "replaceme", "katflow", "secret", "password", "placeholder", "todo"}
)
REFUSED_API_KEY_HASHES = frozenset(
    hash_api_key(k)
    for base in PLACEHOLDER_SECRETS | {"change_me", "replace-me", "replaceme"}
    for k in (base, base.upper(), base.capitalize())
) | {hash_api_key(DEV_API_KEY)}


def is_placeholder(value: str) -> bool:
    """A secret nobody chose: a placeholder word in any case or punctuation, or one containing
    'changeme' / 'replaceme' ("changeme123", "<CHANGE-ME>"). The empty string means unset, not this."""
    word = re.sub(r"[^a-z0-9]", "", value.lower())
    return bool(value) and (word in PLACEHOLDER_WORDS or "changeme" in word or "replaceme" in word)


def secrets_in(value: object, path: str) -> Iterator[tuple[str, str]]:
    """Every secret value in a setting, nested models, lists and dicts included, with where it is."""
    if isinstance(value, SecretStr):
        yield path, value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secrets_in(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from secrets_in(item, f"{path}[{key!r}]")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from secrets_in(item, f"{path}[{index}]")


def database_url_problem(url: str) -> str | None:
    """Why a prod database URL is refused: a placeholder password, or TLS that is not verified."""
    try:
        parts = urlsplit(url)
        password = unquote(parts.password or "")
    except ValueError:
        return "is not a postgresql:// URL"
    if is_placeholder(password):
        return "uses a placeholder password; set a real secret in prod"
    if parse_qs(parts.query).get("sslmode") != ["verify-full"]:
        return "must verify the server's certificate in prod: sslmode=verify-full (sslrootcert= if private)"
    return None


def migration_url_problem(migration_url: str, service_url: str) -> str | None:
    """Why prod refuses the migration role: none (the service's own role would own the tables, and so
    could alter the audit trail or disable its triggers), the service's own role, or a bad URL."""
    if not migration_url:
        return "is required in prod: a migration role must own the tables (the audit trail), not the service"
    if urlsplit(migration_url).username == urlsplit(service_url).username:
        return "names the service's own role; the tables' owner must be another role"
    return database_url_problem(migration_url)


class ServiceSettings(BaseSettings):
    """Settings every katflow service shares. Services subclass it to add their own."""

    model_config = SettingsConfigDict(env_prefix="KATFLOW_", extra="ignore", frozen=True)
    # A service migrates a database of its own (with an audit trail): prod requires a migration role.
    # The base settings also serve tools that never connect (``katflow topics``).
    owns_database: ClassVar[bool] = False

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
        description="PostgreSQL DSN of this service's own database (prod: sslmode=verify-full, and"
        " sslrootcert= for a private CA).",
    )
    database_pool_size: int = Field(10, description="Maximum connections in the asyncpg pool.")
    migration_database_url: SecretStr = Field(
        SecretStr(""),
        description="DSN of the role that owns this service's tables and runs its migrations at start;"
        " the KATFLOW_DATABASE_URL role is then granted only reads and writes, and on audit_log only"
        " INSERT and SELECT, so the running service cannot alter the audit trail or disable its"
        " append-only triggers. Required in prod (another role than KATFLOW_DATABASE_URL's); empty in dev"
        " and tests: the service's own role migrates and owns the tables.",
    )
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="Kafka bootstrap servers, comma separated.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="Kafka transport security (prod refuses the plaintext ones)."
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
    consumer_commit_interval_seconds: float = Field(
        1.0,
        ge=0,
        description="Least time between offset commits of handled records (0: after every poll)."
        " Rebalances and shutdown commit at once; a crash redelivers at most this much, which the"
        " inbox skips.",
    )
    consumer_fetch_wait_ms: int = Field(
        100,
        ge=0,
        description="How long the broker may hold a fetch to gather more records (up to"
        " KATFLOW_CONSUMER_FETCH_MIN_BYTES): at most this much added latency per hop. Every fetch"
        " names every assigned partition, so a shorter wait costs CPU whether or not records flow:"
        " an idle stack used ~200 ms of CPU per second at 25 ms, ~80 at 100 (docs/benchmarks.md).",
    )
    consumer_fetch_min_bytes: int = Field(
        16384, ge=1, description="Bytes a fetch waits for (at most KATFLOW_CONSUMER_FETCH_WAIT_MS)."
    )
    timer_poll_seconds: float = Field(
        0.5,
        description="Longest the timer worker sleeps between looks; it also wakes when a timer is"
        " scheduled (NOTIFY) or the next one comes due.",
    )
    clock_offset_file: Path | None = Field(
        None, description="Tests only (refused in prod): file holding seconds to add to the wall clock."
    )
    shutdown_timeout_seconds: float = Field(20.0, description="Bound on graceful shutdown after SIGTERM.")
    # --- authentication (see docs/security.md)
    auth_jwks_url: str = Field(
        "", description="JWKS URL of the identity provider whose JWTs are accepted (empty: no JWTs)."
    )
    auth_issuer: str = Field("", description="Required `iss` of accepted JWTs.")
    auth_audience: str = Field("katflow", description="Required `aud` of accepted JWTs.")
    auth_roles_claim: str = Field(
        "roles",
        description="Claim holding the katflow roles, a dotted path: the roles of katflow's own client at"
        " the identity provider (Keycloak: resource_access.katflow.roles), never realm-wide names"
        " (prod refuses realm_access.*).",
    )
    auth_algorithms: list[str] = Field(
        default_factory=lambda: ["RS256", "ES256"], description="Accepted JWT algorithms (asymmetric only)."
    )
    auth_jwks_cache_seconds: float = Field(300.0, description="How long fetched JWKS keys are trusted.")
    auth_leeway_seconds: int = Field(30, description="Clock skew allowed on exp/nbf/iat of JWTs.")
    api_keys: dict[str, ApiKey] = Field(
        default_factory=dict,
        description='Machine clients: JSON {"<sha256 hex of the key>": {"name": ..., "roles": [...]}}.',
    )
    public_rate_limit_per_minute: int = Field(
        20, ge=1, description="Requests per minute per client IP to public (unauthenticated) endpoints."
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Proxies allowed to name the client in X-Forwarded-For (addresses or networks, JSON:"
        ' ["10.0.0.0/8"]): the client is then the right-most address there that is not itself a'
        " trusted proxy. Forwarded headers from any other peer are ignored (by default, from all).",
    )

    @field_validator("auth_roles_claim")
    @classmethod
    def _client_roles_in_prod(cls, claim: str, info: ValidationInfo) -> str:
        if info.data.get("environment") == "prod" and claim.split(".")[0] == "realm_access":
            raise ValueError(
                "KATFLOW_AUTH_ROLES_CLAIM names realm-wide roles, which any application of the realm"
                " may be given; in prod use katflow's client roles (resource_access.<client>.roles)"
            )
        return claim

    @field_validator("api_keys")
    @classmethod
    def _hashes_only(cls, keys: dict[str, ApiKey]) -> dict[str, ApiKey]:
        for digest in keys:
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError("KATFLOW_API_KEYS maps SHA-256 hex digests of keys, never keys themselves")
        return keys

    @model_validator(mode="after")
    def _refuse_placeholders_outside_dev(self) -> ServiceSettings:
        if self.environment != "prod":
            return self
        for name, value in self:
            for where, secret in secrets_in(value, f"KATFLOW_{name.upper()}"):
                if is_placeholder(secret):
                    raise ValueError(f"{where} is a placeholder; set a real secret in prod")
        if REFUSED_API_KEY_HASHES & set(self.api_keys):
            raise ValueError("KATFLOW_API_KEYS holds a placeholder or development key; refused in prod")
        if self.auth_jwks_url and not (self.auth_jwks_url.startswith("https://") and self.auth_issuer):
            raise ValueError("in prod KATFLOW_AUTH_JWKS_URL must be https and KATFLOW_AUTH_ISSUER set")
        problem = database_url_problem(self.database_url.get_secret_value())
        if problem:
            raise ValueError(f"KATFLOW_DATABASE_URL {problem}")
        migration_url = self.migration_database_url.get_secret_value()
        if self.owns_database:
            problem = migration_url_problem(migration_url, self.database_url.get_secret_value())
        else:
            problem = database_url_problem(migration_url) if migration_url else None
        if problem:
            raise ValueError(f"KATFLOW_MIGRATION_DATABASE_URL {problem}")
        if self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            raise ValueError("in prod KATFLOW_KAFKA_SECURITY_PROTOCOL must be SASL_SSL or SSL (TLS to Kafka)")
        if self.kafka_security_protocol.startswith("SASL"):
            if self.kafka_sasl_password.get_secret_value() in PLACEHOLDER_SECRETS:
                raise ValueError("KATFLOW_KAFKA_SASL_PASSWORD is a placeholder; set a real secret in prod")
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"
