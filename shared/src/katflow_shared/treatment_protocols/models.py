"""Treatment protocols as versioned configuration: one file per route and version.

A clinic's medical director sets these numbers; the code only enforces them. Each model refuses
values that would break a clinical rule (for example a REMS intranasal protocol with less than two
hours of monitoring), so a bad file stops the service at start-up with a message naming the field.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..contracts.common import MonitoringCheck, Route


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Measure(StrEnum):
    PHQ9 = "phq9"
    GAD7 = "gad7"
    PCL5 = "pcl5"


class BloodPressure(_Frozen):
    systolic: int = Field(ge=60, le=260, description="Systolic pressure, mmHg.")
    diastolic: int = Field(ge=30, le=160, description="Diastolic pressure, mmHg.")

    def at_or_above(self, limit: BloodPressure) -> bool:
        return self.systolic >= limit.systolic or self.diastolic >= limit.diastolic


class Preparation(_Frozen):
    sessions_required: int = Field(ge=1, le=12, description="Preparation sessions to hold before dosing.")
    consent_document: str = Field(min_length=1, description="Informed-consent document version to sign.")
    intention_required: bool = Field(True, description="An intention must be recorded.")
    baseline_measures: list[Measure] = Field(min_length=1, description="Instruments on file before dosing.")
    ride_home_required: bool = Field(True, description="A ride home must be arranged.")
    rems_enrollment_required: bool = Field(False, description="Patient enrolled in the REMS before dose 1.")


class CheckOffset(_Frozen):
    check: MonitoringCheck = Field(description="Which prompt staff get.")
    offset_minutes: int = Field(ge=1, le=480, description="Minutes after administration.")


class Dosing(_Frozen):
    pre_dose_minutes: int = Field(ge=0, le=120, description="Check-in and pre-dose vitals before dosing.")
    monitoring_minutes: int = Field(ge=15, le=480, description="Least monitoring after administration.")
    checks: list[CheckOffset] = Field(min_length=1, description="Monitoring prompts (+40 min BP, ...).")
    max_pre_dose_bp: BloodPressure = Field(description="Dosing is refused at or above this pressure.")
    requires_rems_certified_site: bool = Field(False, description="Only a REMS-certified site may dose.")
    rems_form_due_days: int | None = Field(None, ge=1, le=30, description="REMS monitoring form due.")
    room_capabilities: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="What the dosing room must have (e.g. iv_pump, recliner); none: any room.",
    )

    @property
    def reserved_minutes(self) -> int:
        """Room and monitoring clinician are held for check-in plus the whole monitoring window."""
        return self.pre_dose_minutes + self.monitoring_minutes

    @model_validator(mode="after")
    def _checks_inside_monitoring(self) -> Dosing:
        kinds = [c.check for c in self.checks]
        if len(set(kinds)) != len(kinds):
            raise ValueError("checks: each monitoring check may appear once")
        for c in self.checks:
            if c.offset_minutes > self.monitoring_minutes:
                raise ValueError(f"checks: {c.check} at +{c.offset_minutes} min is after monitoring ends")
        return self


class Integration(_Frozen):
    opens_after_minutes: int = Field(ge=0, le=7 * 24 * 60, description="Window opens after discharge.")
    due_offset_minutes: int = Field(0, ge=0, description="IntegrationDue fires this long after opening.")
    window_hours: int = Field(ge=1, le=14 * 24, description="Window closes this long after administration.")
    session_minutes: int = Field(ge=15, le=180, description="Length of an integration session.")
    booking_lead_minutes: int = Field(ge=0, le=24 * 60, description="Least notice when booked automatically.")
    block_next_dose_until_held: bool = Field(description="Next dose waits for this dose's integration.")


class CadencePhase(_Frozen):
    name: str = Field(min_length=1, description="induction, optimisation, ...")
    doses: int = Field(ge=1, le=52, description="Doses in this phase.")
    min_days_between: int = Field(ge=1, le=90, description="Least calendar days after the previous dose.")
    max_days_between: int = Field(ge=1, le=120, description="Most calendar days (target, not enforced).")

    @model_validator(mode="after")
    def _ordered(self) -> CadencePhase:
        if self.max_days_between < self.min_days_between:
            raise ValueError("max_days_between must be at least min_days_between")
        return self


class Instructions(_Frozen):
    fasting: str = Field(min_length=1, description="Plan-ahead fasting instruction for the patient.")
    aftercare: str = Field(min_length=1, description="Aftercare given at discharge.")
    driving: str = Field(min_length=1, description="Driving restriction after a dose.")


class Protocol(_Frozen):
    """One route's protocol at one version. ``id`` (e.g. 'iv@1') is what session records name."""

    route: Route
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    approved_by: str = Field(min_length=1, description="Medical director who approved this version.")
    effective_from: date
    preparation: Preparation
    dosing: Dosing
    integration: Integration
    cadence: list[CadencePhase] = Field(min_length=1, description="Series cadence, phase by phase.")
    no_show_grace_minutes: int = Field(ge=0, le=120, description="A patient is a no-show after this.")
    instructions: Instructions

    @property
    def id(self) -> str:
        return f"{self.route.value}@{self.version}"

    @property
    def total_doses(self) -> int:
        return sum(p.doses for p in self.cadence)

    def phase_for(self, dose_number: int) -> CadencePhase:
        """The cadence phase dose ``dose_number`` (1-based) belongs to."""
        seen = 0
        for phase in self.cadence:
            seen += phase.doses
            if dose_number <= seen:
                return phase
        raise ValueError(f"dose {dose_number} is beyond the course's {self.total_doses} doses")

    @model_validator(mode="after")
    def _rems(self) -> Protocol:
        if self.route is not Route.INTRANASAL:
            return self
        d = self.dosing
        if not (d.requires_rems_certified_site and self.preparation.rems_enrollment_required):
            raise ValueError("intranasal esketamine (REMS): certified site and patient enrolment required")
        if d.monitoring_minutes < 120:
            raise ValueError("intranasal esketamine (REMS): monitoring_minutes must be at least 120")
        if MonitoringCheck.BLOOD_PRESSURE not in {c.check for c in d.checks}:
            raise ValueError("intranasal esketamine (REMS): a post-dose blood pressure check is required")
        if d.rems_form_due_days is None:
            raise ValueError("intranasal esketamine (REMS): rems_form_due_days is required")
        return self


class Contraindication(StrEnum):
    ANEURYSMAL_VASCULAR_DISEASE = "aneurysmal_vascular_disease"
    ARTERIOVENOUS_MALFORMATION = "arteriovenous_malformation"
    INTRACEREBRAL_HAEMORRHAGE = "intracerebral_haemorrhage"
    HYPERSENSITIVITY = "hypersensitivity"
    PSYCHOSIS_HISTORY = "psychosis_history"
    MANIA_HISTORY = "mania_history"
    SUBSTANCE_USE_DISORDER = "substance_use_disorder"
    PREGNANCY = "pregnancy"


class ScreeningRules(_Frozen):
    """Clinic-wide screening rules (route-independent), versioned like the protocols."""

    version: int = Field(ge=1)
    approved_by: str = Field(min_length=1)
    blocking: list[Contraindication] = Field(description="Contraindications that block dosing.")
    review: list[Contraindication] = Field(description="Flags a clinician must review.")
    uncontrolled_hypertension: BloodPressure = Field(description="At or above: flag for review.")

    @property
    def id(self) -> str:
        return f"screening@{self.version}"

    @model_validator(mode="after")
    def _disjoint(self) -> ScreeningRules:
        if set(self.blocking) & set(self.review):
            raise ValueError("a contraindication is either blocking or for review, not both")
        return self
