"""A visit's clinical records and their checks at check-in, dosing and discharge: the pre-dose
checks, the dose given, the vitals summary and adverse events (numbers and codes, never notes).
The staff API's bodies carry them (``entrypoints.visit_bodies``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from katflow_shared.bodies import Body
from katflow_shared.contracts.common import MonitoringCheck
from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import BloodPressure, Protocol


class DosingCheckIn(Body):
    """Pre-dose re-check of the prerequisites (only for dosing appointments)."""

    blood_pressure: BloodPressure = Field(description="Pre-dose blood pressure.")
    ride_home_confirmed: bool = Field(description="The patient's ride home is here or confirmed.")
    fasting_confirmed: bool = Field(description="The patient followed the protocol's fasting instruction.")


class Dose(Body):
    dose_mg: float = Field(gt=0, le=500, description="Dose given, mg.")
    dose_mg_per_kg: float | None = Field(None, gt=0, le=5, description="Weight-based dose, if used.")


class AdverseEventCode(StrEnum):
    NAUSEA = "nausea"
    VOMITING = "vomiting"
    DISSOCIATION_SEVERE = "dissociation_severe"
    HYPERTENSION = "hypertension"
    SEDATION_PROLONGED = "sedation_prolonged"
    RESPIRATORY_DEPRESSION = "respiratory_depression"
    ANXIETY = "anxiety"
    OTHER = "other"


class AdverseEvent(Body):
    code: AdverseEventCode
    severity: Literal["mild", "moderate", "severe"]


class VitalsSummary(Body):
    """Numbers only; never notes."""

    post_dose_bp: BloodPressure | None = Field(None, description="Blood pressure at the +40 min check.")
    max_systolic: int | None = Field(None, ge=60, le=260)
    min_spo2: int | None = Field(None, ge=50, le=100, description="Lowest oxygen saturation, %.")
    discharge_bp: BloodPressure | None = None


class Discharge(Body):
    """What a discharge records: the vitals summary, adverse events and the discharge assessment."""

    vitals: VitalsSummary
    adverse_events: list[AdverseEvent] = Field(default_factory=list)
    discharge_assessment_passed: bool = Field(description="A clinician assessed the patient fit to leave.")


def check_dosing_check_in(d: DosingCheckIn | None, protocol: Protocol, rems_certified: bool) -> DosingCheckIn:
    if d is None:
        raise RuleViolation(
            ["dosing"], "pre_dose_checks_required", "a dosing check-in records pre-dose checks"
        )
    if protocol.dosing.requires_rems_certified_site and not rems_certified:
        raise RuleViolation(["appointment_id"], "rems_certified_site", "this site is not REMS-certified", 409)
    if d.blood_pressure.at_or_above(protocol.dosing.max_pre_dose_bp):
        limit = protocol.dosing.max_pre_dose_bp
        raise RuleViolation(
            ["dosing", "blood_pressure"],
            "blood_pressure_above_dosing_limit",
            f"at or above {limit.systolic}/{limit.diastolic} ({protocol.id})",
        )
    if protocol.preparation.ride_home_required and not d.ride_home_confirmed:
        raise RuleViolation(["dosing", "ride_home_confirmed"], "ride_home_required", "no ride home confirmed")
    if not d.fasting_confirmed:
        raise RuleViolation(
            ["dosing", "fasting_confirmed"], "fasting_required", protocol.instructions.fasting
        )
    return d


def check_discharge(
    discharge: Discharge, protocol: Protocol, administered_at: datetime, now: datetime
) -> None:
    minimum = protocol.dosing.monitoring_minutes
    if (now - administered_at).total_seconds() < minimum * 60:
        raise RuleViolation(
            ["appointment_id"],
            "minimum_monitoring",
            f"{protocol.id} monitors at least {minimum} minutes",
            409,
        )
    if not discharge.discharge_assessment_passed:
        raise RuleViolation(
            ["discharge_assessment_passed"],
            "discharge_assessment_required",
            "discharge only after assessment",
        )
    wants_bp = MonitoringCheck.BLOOD_PRESSURE in {c.check for c in protocol.dosing.checks}
    if wants_bp and discharge.vitals.post_dose_bp is None:
        raise RuleViolation(
            ["vitals", "post_dose_bp"],
            "post_dose_blood_pressure_required",
            "record the post-dose blood pressure",
        )
