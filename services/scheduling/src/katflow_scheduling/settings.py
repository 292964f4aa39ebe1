"""Scheduling settings (environment prefix KATFLOW_)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from katflow_shared.settings import ServiceSettings

DEFAULT_CLINIC = Path(__file__).parent / "config" / "clinic.json"


class SchedulingSettings(ServiceSettings):
    owns_database: ClassVar[bool] = True

    service_name: str = Field("scheduling", description="Service name.")
    http_port: int = Field(8002, description="Port the scheduling HTTP API listens on.")
    clinic_config: Path = Field(
        DEFAULT_CLINIC,
        description="JSON file with a new clinic's hours, clinicians and rooms: imported when the "
        "database has no clinic yet; after that admins change the clinic through the admin API.",
    )
    protocols_dir: Path | None = Field(
        None,
        description="Directory of protocol files (default: the versioned files shipped in katflow_shared).",
    )
