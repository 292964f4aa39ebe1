"""Intake settings (environment prefix KATFLOW_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from katflow_shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="KATFLOW_", extra="ignore", frozen=True)

    service_name: str = Field("intake", description="Service name.")
    http_port: int = Field(8001, description="Port the intake HTTP API listens on.")
    minimum_age_years: int = Field(18, description="Youngest age accepted for a consultation request.")
    protocols_dir: Path | None = Field(
        None,
        description="Directory of protocol files (default: the versioned files shipped in katflow_shared).",
    )
