"""The preparation checklist: what the course's protocol requires before dosing may be booked."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Literal

from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import Measure, Protocol

Item = Literal["consent", "intention", "baseline", "ride_home", "rems_enrollment"]


class ConsentRecord(typing.Protocol):
    """What the consent rule reads of a signed consent."""

    @property
    def document_version(self) -> str: ...


class BaselineScores(typing.Protocol):
    """What the baseline rule reads: each instrument's score, None when not taken."""

    @property
    def phq9(self) -> int | None: ...
    @property
    def gad7(self) -> int | None: ...
    @property
    def pcl5(self) -> int | None: ...


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


def check_consent(body: ConsentRecord, protocol: Protocol) -> None:
    if body.document_version != protocol.preparation.consent_document:
        raise RuleViolation(
            ["document_version"],
            "consent_document_version",
            f"protocol {protocol.id} requires consent document {protocol.preparation.consent_document}",
        )


def check_baseline(body: BaselineScores, protocol: Protocol) -> None:
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
