"""The preparation checklist: what the course's protocol requires before dosing may be booked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import Field

from katflow_shared.bodies import Body as _Body
from katflow_shared.bodies import StaffId
from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import Measure, Protocol

Item = Literal["consent", "intention", "baseline", "ride_home", "rems_enrollment"]


class PreparationSessionIn(_Body):
    held_on: date = Field(description="Day the preparation session was held.")
    clinician_id: StaffId = Field(
        description="Clinician or therapist who held it: data, not the actor (a coordinator may record "
        "a session a therapist held); whoever records it is the caller, in the audit trail."
    )


class ConsentIn(_Body):
    document_version: str = Field(min_length=1, max_length=64, description="Consent document signed.")
    signed: Literal[True] = Field(description="The patient signed informed consent.")


class IntentionIn(_Body):
    """That an intention was recorded; its words stay in the therapy record, never here."""

    recorded: Literal[True]


class BaselineIn(_Body):
    phq9: int | None = Field(None, ge=0, le=27)
    gad7: int | None = Field(None, ge=0, le=21)
    pcl5: int | None = Field(None, ge=0, le=80)


class RideHomeIn(_Body):
    arranged: Literal[True] = Field(description="A responsible adult will take the patient home.")


class RemsEnrollmentIn(_Body):
    enrollment_id: str = Field(min_length=3, max_length=64, description="REMS patient enrolment number.")


@dataclass(frozen=True)
class Checklist:
    sessions_held: int = 0
    items: frozenset[str] = field(default_factory=frozenset)


def missing(checklist: Checklist, protocol: Protocol) -> list[str]:
    """What is still missing, in the order staff usually complete it (empty: complete)."""
    p = protocol.preparation
    out = [] if checklist.sessions_held >= p.sessions_required else ["sessions"]
    for item, needed in (
        ("consent", True),
        ("intention", p.intention_required),
        ("baseline", True),
        ("ride_home", p.ride_home_required),
        ("rems_enrollment", p.rems_enrollment_required),
    ):
        if needed and item not in checklist.items:
            out.append(item)
    return out


def check_consent(body: ConsentIn, protocol: Protocol) -> None:
    if body.document_version != protocol.preparation.consent_document:
        raise RuleViolation(
            ["document_version"],
            "consent_document_version",
            f"protocol {protocol.id} requires consent document {protocol.preparation.consent_document}",
        )


def check_baseline(body: BaselineIn, protocol: Protocol) -> None:
    given = {Measure.PHQ9: body.phq9, Measure.GAD7: body.gad7, Measure.PCL5: body.pcl5}
    absent = [m.value for m in protocol.preparation.baseline_measures if given[m] is None]
    if absent:
        raise RuleViolation(
            [absent[0]], "baseline_measures_required", f"protocol {protocol.id} needs: {', '.join(absent)}"
        )


def check_rems(protocol: Protocol) -> None:
    if not protocol.preparation.rems_enrollment_required:
        raise RuleViolation(
            ["enrollment_id"], "rems_not_applicable", f"protocol {protocol.id} has no REMS enrolment"
        )
