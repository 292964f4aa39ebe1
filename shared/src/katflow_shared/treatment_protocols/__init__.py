"""Versioned treatment protocols per route (IV, IM, intranasal esketamine, oral) and screening rules."""

from __future__ import annotations

from .book import ProtocolBook, ProtocolConfigError, default_directory, load_protocols
from .models import (
    BloodPressure,
    CadencePhase,
    CheckOffset,
    Contraindication,
    Measure,
    Protocol,
    ScreeningRules,
)

__all__ = [
    "BloodPressure",
    "CadencePhase",
    "CheckOffset",
    "Contraindication",
    "Measure",
    "Protocol",
    "ProtocolBook",
    "ProtocolConfigError",
    "ScreeningRules",
    "default_directory",
    "load_protocols",
]
