"""Console settings (environment prefix KATFLOW_)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from katflow_shared.settings import ServiceSettings


class ConsoleSettings(ServiceSettings):
    owns_database: ClassVar[bool] = True

    service_name: str = Field("console", description="Service name.")
    http_port: int = Field(8004, description="Port the staff console listens on.")
    console_url: str = Field(
        "http://127.0.0.1:8004", description="The console's public address (the OIDC redirect is under it)."
    )
    console_oidc_issuer: str = Field(
        "", description="The staff IdP's issuer (a Keycloak realm); empty: KATFLOW_AUTH_ISSUER."
    )
    console_oidc_internal_url: str = Field(
        "",
        description="Where the console itself reaches the IdP's realm (token, refresh, logout) when that"
        " differs from the issuer people's browsers use (compose, Kubernetes); empty: the issuer.",
    )
    console_oidc_client_id: str = Field("katflow-console", description="The console's OIDC client.")
    console_oidc_client_secret: SecretStr = Field(
        SecretStr(""), description="The console client's secret (confidential client)."
    )
    console_cookie_secure: bool = Field(
        True, description="Mark the session cookie Secure (turn off only for http:// development)."
    )
    console_session_hours: float = Field(10, description="A login lasts at most this long.")
    clinic_time_zone: str = Field("America/New_York", description="The clinic's zone: what 'today' is.")
    console_rems_escalate_days: int = Field(
        2,
        ge=0,
        description="An unfiled REMS monitoring form becomes an urgent alert this many days before its day.",
    )
    console_rems_watch_seconds: float = Field(
        60, gt=0, description="How often unfiled REMS forms are looked at."
    )
    intake_url: str = Field("http://127.0.0.1:8001", description="intake's API.")
    scheduling_url: str = Field("http://127.0.0.1:8002", description="scheduling's API.")
    notifications_url: str = Field("http://127.0.0.1:8003", description="notifications' API.")

    @property
    def issuer(self) -> str:
        return (self.console_oidc_issuer or self.auth_issuer).rstrip("/")
