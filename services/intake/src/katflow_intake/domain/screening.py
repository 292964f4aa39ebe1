"""Screening and eligibility rules: pure, no I/O.

A high-risk C-SSRS result (ideation with intent in the past month, or any suicidal behaviour in the
past 3 months) halts the course; blocking contraindications forbid an 'eligible' decision; review
flags need a clinician's explicit review first. No body names who acts: that is the caller
(``katflow_shared.auth.Actor``); a body that tries (``screened_by``, ...) is a 422.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from katflow_shared.bodies import Body as _Body
from katflow_shared.contracts.common import EligibilityOutcome, Route
from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import BloodPressure, Contraindication, ScreeningRules

Resolution = Literal["resume", "end"]  # what a clinician decides on a halted course's urgent review


class CssrsIn(_Body):
    """C-SSRS screener answers (yes/no)."""

    wish_to_be_dead: bool = Field(description="Past month: wished to be dead or not wake up.")
    suicidal_thoughts: bool = Field(description="Past month: non-specific active suicidal thoughts.")
    thoughts_with_method: bool = Field(False, description="Past month: thought about how.")
    intent: bool = Field(False, description="Past month: some intention of acting on the thoughts.")
    intent_with_plan: bool = Field(False, description="Past month: worked out details, intends to act.")
    behaviour_past_3_months: bool = Field(description="Any suicidal behaviour in the past 3 months.")


class ScreeningIn(_Body):
    """Body of POST /v1/courses/{id}/screening. Scores stay in intake; events carry none."""

    phq9: int = Field(ge=0, le=27, description="PHQ-9 total.")
    gad7: int | None = Field(None, ge=0, le=21, description="GAD-7 total, if taken.")
    pcl5: int | None = Field(None, ge=0, le=80, description="PCL-5 total, if taken.")
    cssrs: CssrsIn
    blood_pressure: BloodPressure
    contraindications: list[Contraindication] = Field(
        default_factory=list, description="Contraindications found (codes, never free text)."
    )


class EligibilityIn(_Body):
    """Body of POST /v1/courses/{id}/eligibility: the clinician's decision."""

    outcome: EligibilityOutcome
    route: Route | None = Field(None, description="Route approved; required when eligible.")
    flags_reviewed: bool = Field(False, description="Clinician reviewed every flag of the screening.")


@dataclass(frozen=True)
class Assessment:
    high_risk: bool
    blocking: list[Contraindication]
    review_flags: list[str]

    @property
    def suggested(self) -> EligibilityOutcome:
        if self.blocking:
            return EligibilityOutcome.NOT_ELIGIBLE
        return EligibilityOutcome.CLINICIAN_REVIEW if self.review_flags else EligibilityOutcome.ELIGIBLE


def high_risk(c: CssrsIn) -> bool:
    return c.intent or c.intent_with_plan or c.behaviour_past_3_months


def assess(s: ScreeningIn, rules: ScreeningRules) -> Assessment:
    flags = [c.value for c in s.contraindications if c in rules.review]
    if s.blood_pressure.at_or_above(rules.uncontrolled_hypertension):
        flags.append("uncontrolled_hypertension")
    if s.cssrs.thoughts_with_method:
        flags.append("cssrs_ideation_with_method")
    blocking = [c for c in s.contraindications if c in rules.blocking]
    return Assessment(high_risk(s.cssrs), blocking, flags)


def check_decision(body: EligibilityIn, latest: Assessment | None) -> None:
    """Raise RuleViolation naming the rule when the decision is not allowed."""
    if latest is None:
        raise RuleViolation(["outcome"], "screening_required", "record a screening before deciding", 409)
    if body.outcome is not EligibilityOutcome.ELIGIBLE:
        return
    if latest.high_risk:
        raise RuleViolation(
            ["outcome"], "rescreening_required", "the latest screening was high-risk: screen again", 409
        )
    if body.route is None:
        raise RuleViolation(["route"], "route_required", "an eligible decision names the route")
    if latest.blocking:
        names = ", ".join(c.value for c in latest.blocking)
        raise RuleViolation(["outcome"], "contraindication_blocks_dosing", f"blocked by: {names}")
    if latest.review_flags and not body.flags_reviewed:
        names = ", ".join(latest.review_flags)
        raise RuleViolation(
            ["flags_reviewed"], "clinician_review_required", f"review these flags first: {names}"
        )
