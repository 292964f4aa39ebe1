"""Notifications settings (environment prefix KATFLOW_)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from katflow_shared.settings import ServiceSettings

DEFAULT_STAFF = Path(__file__).parent / "config" / "staff.json"


class NotificationsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KATFLOW_", extra="ignore", frozen=True)

    service_name: str = Field("notifications", description="Service name.")
    http_port: int = Field(8003, description="Port the notifications HTTP API listens on.")
    smtp_host: str = Field("127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(1025, description="SMTP server port.")
    smtp_security: Literal["none", "starttls", "tls"] = Field("none", description="SMTP transport security.")
    smtp_username: str = Field("", description="SMTP username (empty: no AUTH).")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    mail_from: str = Field("Care Team <care@clinic.example>", description="Neutral sender of every email.")
    portal_url: str = Field("https://portal.clinic.example", description="Patient portal link in messages.")
    staff_directory: Path = Field(DEFAULT_STAFF, description="JSON file: staff, roles and routing rules.")
    dispatch_poll_seconds: float = Field(
        0.2, description="How often the dispatcher looks for due deliveries."
    )
    delivery_max_attempts: int = Field(8, description="Attempts before a delivery is marked failed.")
    delivery_lease_seconds: int = Field(
        120, description="A claimed delivery returns to the queue after this."
    )
