"""katflow's roles, and the API keys configured to grant them: what settings (``KATFLOW_API_KEYS``)
and authentication (``auth.require_roles``) share. Standard library and pydantic only."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# Development only: `katflow up` and `katflow demo` use it; prod settings refuse its hash.
DEV_API_KEY = "kfk_dev_local_only_do_not_use_in_production"


class Role(StrEnum):
    INTAKE_COORDINATOR = "intake_coordinator"
    CLINICIAN = "clinician"
    THERAPIST = "therapist"
    ADMIN = "admin"
    INTEGRATOR = "integrator"
    PROVIDER_CALLBACK = "provider_callback"


CARE_TEAM = (Role.INTAKE_COORDINATOR, Role.CLINICIAN, Role.THERAPIST)


class ApiKey(BaseModel):
    """A machine client's key, as configured: the key itself is never stored, only its hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=100,
        description="Who holds the key, e.g. 'ehr-sync': the caller's subject (a staff id for a person).",
    )
    roles: list[Role] = Field(min_length=1, description="Roles the key grants.")


def hash_api_key(key: str) -> str:
    """The value to put in KATFLOW_API_KEYS for ``key`` (lowercase hex SHA-256)."""
    return hashlib.sha256(key.encode()).hexdigest()
