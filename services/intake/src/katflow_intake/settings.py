"""Intake settings (environment prefix KATFLOW_)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from katflow_shared.settings import ServiceSettings

from .challenge import load_verifier


class IntakeSettings(ServiceSettings):
    owns_database: ClassVar[bool] = True

    service_name: str = Field("intake", description="Service name.")
    http_port: int = Field(8001, description="Port the intake HTTP API listens on.")
    minimum_age_years: int = Field(18, description="Youngest age accepted for a consultation request.")
    protocols_dir: Path | None = Field(
        None,
        description="Directory of protocol files (default: the versioned files shipped in katflow_shared).",
    )
    # --- the public form's abuse limits (docs/security.md#the-public-form)
    public_form_per_destination_per_day: int = Field(
        3,
        ge=1,
        description="Consultation requests (so acknowledgements) one email address or phone number may be"
        " named in per 24 h, across all clients and replicas; more is a 429.",
    )
    public_form_per_hour: int = Field(
        200,
        ge=1,
        description="Consultation requests the public form accepts per hour from everyone together (all"
        " replicas); more is a 429.",
    )
    phone_country_codes: list[str] = Field(
        default_factory=lambda: ["+1"],
        description='Prefixes a submitted phone number must start with (JSON, e.g. ["+1", "+44"]; narrower'
        ' prefixes such as "+1212" work too); any other number is a 422, so the form cannot be made to'
        " text premium-rate or foreign ranges.",
    )
    public_form_verifier: str = Field(
        "",
        description="A captcha or proof-of-work check of the public form, as 'module:callable' (an async"
        " callable taking the Request, returning True to admit; docs/security.md). Empty: off. Built in:"
        " katflow_intake.challenge:proof_of_work.",
    )
    proof_of_work_bits: int = Field(
        20, ge=1, le=32, description="Leading zero bits katflow_intake.challenge:proof_of_work asks for."
    )

    @field_validator("phone_country_codes")
    @classmethod
    def _country_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not (code.startswith("+") and code[1:].isascii() and code[1:].isdigit()):
                raise ValueError("KATFLOW_PHONE_COUNTRY_CODES holds '+' and digits, e.g. [\"+1\"]")
        return codes

    @field_validator("public_form_verifier")
    @classmethod
    def _verifier_resolves(cls, name: str) -> str:
        if name:
            load_verifier(name)  # an unknown module or a non-callable fails at start, not per request
        return name
