"""intake's staff API for a course: screening, eligibility, urgent review, preparation checklist.

Every rule a request breaks is answered 4xx with ``detail[0].type`` naming the rule. Who acts
(screened_by, decided_by, resolved_by, each checklist item's recorded_by) is the caller (``Actor``,
the credential's subject); no body names them. A preparation session's ``clinician_id`` is data:
who held the session, not who records it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from katflow_shared.auth import Actor, admits
from katflow_shared.http import staff_action
from katflow_shared.roles import CARE_TEAM, Role
from katflow_shared.runtime import UnitsDep

from ..domain import preparation as prep
from ..domain.screening import EligibilityIn, ScreeningIn
from ..service_layer import preparation as checklist
from ..service_layer import screening
from ..service_layer.preparation import CourseStatus, Preparation
from ..service_layer.screening import Resolved, Screened
from .bodies import (
    BaselineIn,
    ConsentIn,
    IntentionIn,
    PreparationSessionIn,
    RemsEnrollmentIn,
    ResolveIn,
    RideHomeIn,
)
from .deps import BookDep

router = APIRouter(prefix="/v1/courses", tags=["courses (staff)"])
CARE_TEAM_ONLY = [admits(*CARE_TEAM)]
CLINICIAN_ONLY = [admits(Role.CLINICIAN)]
Route = TypeVar("Route", bound=Callable[..., Any])


class EligibilityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # built from the use case's Decided

    course_id: UUID
    outcome: str
    protocol_version: str | None
    missing: list[str] | None


@router.get(
    "/{course_id}",
    response_model=CourseStatus,
    summary="A course's phase and checklist",
    dependencies=CARE_TEAM_ONLY,
)
async def course_status(course_id: UUID, units: UnitsDep, book: BookDep) -> CourseStatus:
    return await checklist.status(units, book, course_id)


@staff_action(
    router,
    "/{course_id}/screening",
    Screened,
    "Record a screening (PHQ-9, C-SSRS, blood pressure, contraindications)",
    "A high-risk C-SSRS result (intent or plan in the past month, or behaviour in the past 3 "
    "months) halts the course and emits UrgentReviewRequired; scores never leave intake.",
    who=CLINICIAN_ONLY,
    status_code=201,
)
async def post_screening(
    course_id: UUID, body: ScreeningIn, units: UnitsDep, book: BookDep, actor: Actor
) -> Screened:
    return await screening.record_screening(units, book, course_id, body, actor)


@staff_action(
    router,
    "/{course_id}/eligibility",
    EligibilityOut,
    "Record the clinician's eligibility decision",
    "Emits EligibilityDecided. 'eligible' pins the route's current protocol version; refused "
    "without a screening (screening_required), with a blocking contraindication "
    "(contraindication_blocks_dosing) or unreviewed flags (clinician_review_required).",
    who=CLINICIAN_ONLY,
)
async def post_eligibility(
    course_id: UUID, body: EligibilityIn, units: UnitsDep, book: BookDep, actor: Actor
) -> EligibilityOut:
    return EligibilityOut.model_validate(
        await screening.decide_eligibility(units, book, course_id, body, actor)
    )


@staff_action(
    router,
    "/{course_id}/urgent-review/resolve",
    Resolved,
    "Resolve a halted course's urgent review: resume (then rescreen) or end",
    "'end' emits EligibilityDecided(not_eligible); 'resume' lifts the halt in intake, and a new "
    "screening plus an eligible decision resumes scheduling.",
    who=CLINICIAN_ONLY,
)
async def post_resolve(course_id: UUID, body: ResolveIn, units: UnitsDep, actor: Actor) -> Resolved:
    return await screening.resolve_urgent_review(units, course_id, body.decision, actor)


def _preparation_step(step: str, summary: str, about: str = "") -> Callable[[Route], Route]:
    """A route recording one step of the preparation checklist: the care team's, answering where the
    checklist stands (``Preparation``)."""
    return staff_action(
        router, f"/{{course_id}}/preparation/{step}", Preparation, summary, about, who=CARE_TEAM_ONLY
    )


@_preparation_step(
    "sessions",
    "Record a preparation session held",
    "Counted against the protocol's sessions_required.",
)
async def post_session(
    course_id: UUID, body: PreparationSessionIn, units: UnitsDep, book: BookDep
) -> Preparation:
    return await checklist.record_session(units, book, course_id, body)


@_preparation_step(
    "consent",
    "Record signed informed consent",
    "The document version must be the protocol's (consent_document_version).",
)
async def post_consent(
    course_id: UUID, body: ConsentIn, units: UnitsDep, book: BookDep, actor: Actor
) -> Preparation:
    return await checklist.record_item(
        units, book, course_id, "consent", body, actor, lambda p: prep.check_consent(body, p)
    )


@_preparation_step("intention", "Record that an intention was set (its words stay in the therapy record)")
async def post_intention(
    course_id: UUID, body: IntentionIn, units: UnitsDep, book: BookDep, actor: Actor
) -> Preparation:
    return await checklist.record_item(units, book, course_id, "intention", body, actor)


@_preparation_step(
    "baseline",
    "Record baseline measures (PHQ-9, GAD-7, PCL-5 as the protocol requires)",
    "Every instrument the protocol lists is required (baseline_measures_required).",
)
async def post_baseline(
    course_id: UUID, body: BaselineIn, units: UnitsDep, book: BookDep, actor: Actor
) -> Preparation:
    return await checklist.record_item(
        units, book, course_id, "baseline", body, actor, lambda p: prep.check_baseline(body, p)
    )


@_preparation_step("ride-home", "Record that a ride home is arranged")
async def post_ride_home(
    course_id: UUID, body: RideHomeIn, units: UnitsDep, book: BookDep, actor: Actor
) -> Preparation:
    return await checklist.record_item(units, book, course_id, "ride_home", body, actor)


@_preparation_step(
    "rems-enrollment",
    "Record the patient's REMS enrolment (intranasal esketamine)",
    "Only for protocols that require it (rems_not_applicable).",
)
async def post_rems(
    course_id: UUID, body: RemsEnrollmentIn, units: UnitsDep, book: BookDep, actor: Actor
) -> Preparation:
    return await checklist.record_item(
        units, book, course_id, "rems_enrollment", body, actor, prep.check_rems
    )
