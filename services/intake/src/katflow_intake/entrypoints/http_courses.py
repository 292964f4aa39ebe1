"""intake's staff API for a course: screening, eligibility, urgent review, preparation checklist.

Every rule a request breaks is answered 4xx with ``detail[0].type`` naming the rule. Who acts
(screened_by, decided_by, resolved_by, each checklist item's recorded_by) is the caller (``Actor``,
the credential's subject); no body names them. A preparation session's ``clinician_id`` is data:
who held the session, not who records it.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from katflow_shared.auth import Actor, admits
from katflow_shared.roles import CARE_TEAM, Role
from katflow_shared.runtime import UnitsDep

from ..domain import preparation as prep
from ..domain.screening import EligibilityIn, ResolveIn, ScreeningIn
from ..service_layer import preparation as checklist
from ..service_layer import screening
from .deps import BookDep

router = APIRouter(prefix="/v1/courses", tags=["courses (staff)"])
CARE_TEAM_ONLY = [admits(*CARE_TEAM)]
CLINICIAN_ONLY = [admits(Role.CLINICIAN)]
RULES = "Breaking a rule answers 409/422 with the rule's name in `detail[0].type`."


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # built from a use case's result


class ScreeningOut(_Out):
    screening_id: UUID
    halted: bool
    blocking_contraindications: list[str]
    review_flags: list[str]
    suggested_outcome: str


class EligibilityOut(_Out):
    course_id: UUID
    outcome: str
    protocol_version: str | None
    missing: list[str] | None


class ResolutionOut(_Out):
    course_id: UUID
    decision: str
    next: str


class PreparationOut(_Out):
    course_id: UUID
    protocol_version: str
    missing: list[str]
    prepared: bool


class CourseStatusOut(_Out):
    course_id: UUID
    phase: str
    halted: bool
    route: str | None
    protocol_version: str | None
    sessions_held: int
    recorded: list[str]
    missing: list[str] | None
    prepared_at: datetime | None


@router.get(
    "/{course_id}",
    response_model=CourseStatusOut,
    summary="A course's phase and checklist",
    dependencies=CARE_TEAM_ONLY,
)
async def course_status(course_id: UUID, units: UnitsDep, book: BookDep) -> CourseStatusOut:
    return CourseStatusOut.model_validate(await checklist.status(units, book, course_id))


@router.post(
    "/{course_id}/screening",
    dependencies=CLINICIAN_ONLY,
    status_code=201,
    response_model=ScreeningOut,
    summary="Record a screening (PHQ-9, C-SSRS, blood pressure, contraindications)",
    description="A high-risk C-SSRS result (intent or plan in the past month, or behaviour in the past 3 "
    "months) halts the course and emits UrgentReviewRequired; scores never leave intake. " + RULES,
)
async def post_screening(
    course_id: UUID, body: ScreeningIn, units: UnitsDep, book: BookDep, actor: Actor
) -> ScreeningOut:
    return ScreeningOut.model_validate(await screening.record_screening(units, book, course_id, body, actor))


@router.post(
    "/{course_id}/eligibility",
    dependencies=CLINICIAN_ONLY,
    response_model=EligibilityOut,
    summary="Record the clinician's eligibility decision",
    description="Emits EligibilityDecided. 'eligible' pins the route's current protocol version; refused "
    "without a screening (screening_required), with a blocking contraindication "
    "(contraindication_blocks_dosing) or unreviewed flags (clinician_review_required). " + RULES,
)
async def post_eligibility(
    course_id: UUID, body: EligibilityIn, units: UnitsDep, book: BookDep, actor: Actor
) -> EligibilityOut:
    return EligibilityOut.model_validate(
        await screening.decide_eligibility(units, book, course_id, body, actor)
    )


@router.post(
    "/{course_id}/urgent-review/resolve",
    dependencies=CLINICIAN_ONLY,
    response_model=ResolutionOut,
    summary="Resolve a halted course's urgent review: resume (then rescreen) or end",
    description="'end' emits EligibilityDecided(not_eligible); 'resume' lifts the halt in intake, and a new "
    "screening plus an eligible decision resumes scheduling. " + RULES,
)
async def post_resolve(course_id: UUID, body: ResolveIn, units: UnitsDep, actor: Actor) -> ResolutionOut:
    return ResolutionOut.model_validate(await screening.resolve_urgent_review(units, course_id, body, actor))


@router.post(
    "/{course_id}/preparation/sessions",
    dependencies=CARE_TEAM_ONLY,
    response_model=PreparationOut,
    summary="Record a preparation session held",
    description="Counted against the protocol's sessions_required. " + RULES,
)
async def post_session(
    course_id: UUID, body: prep.PreparationSessionIn, units: UnitsDep, book: BookDep
) -> PreparationOut:
    return PreparationOut.model_validate(await checklist.record_session(units, book, course_id, body))


@router.post(
    "/{course_id}/preparation/consent",
    dependencies=CARE_TEAM_ONLY,
    response_model=PreparationOut,
    summary="Record signed informed consent",
    description="The document version must be the protocol's (consent_document_version). " + RULES,
)
async def post_consent(
    course_id: UUID, body: prep.ConsentIn, units: UnitsDep, book: BookDep, actor: Actor
) -> PreparationOut:
    return PreparationOut.model_validate(
        await checklist.record_item(
            units, book, course_id, "consent", body, actor, lambda p: prep.check_consent(body, p)
        )
    )


@router.post(
    "/{course_id}/preparation/intention",
    dependencies=CARE_TEAM_ONLY,
    response_model=PreparationOut,
    summary="Record that an intention was set (its words stay in the therapy record)",
    description=RULES,
)
async def post_intention(
    course_id: UUID, body: prep.IntentionIn, units: UnitsDep, book: BookDep, actor: Actor
) -> PreparationOut:
    return PreparationOut.model_validate(
        await checklist.record_item(units, book, course_id, "intention", body, actor)
    )


@router.post(
    "/{course_id}/preparation/baseline",
    dependencies=CARE_TEAM_ONLY,
    response_model=PreparationOut,
    summary="Record baseline measures (PHQ-9, GAD-7, PCL-5 as the protocol requires)",
    description="Every instrument the protocol lists is required (baseline_measures_required). " + RULES,
)
async def post_baseline(
    course_id: UUID, body: prep.BaselineIn, units: UnitsDep, book: BookDep, actor: Actor
) -> PreparationOut:
    return PreparationOut.model_validate(
        await checklist.record_item(
            units, book, course_id, "baseline", body, actor, lambda p: prep.check_baseline(body, p)
        )
    )


@router.post(
    "/{course_id}/preparation/ride-home",
    dependencies=CARE_TEAM_ONLY,
    response_model=PreparationOut,
    summary="Record that a ride home is arranged",
    description=RULES,
)
async def post_ride_home(
    course_id: UUID, body: prep.RideHomeIn, units: UnitsDep, book: BookDep, actor: Actor
) -> PreparationOut:
    return PreparationOut.model_validate(
        await checklist.record_item(units, book, course_id, "ride_home", body, actor)
    )


@router.post(
    "/{course_id}/preparation/rems-enrollment",
    dependencies=CARE_TEAM_ONLY,
    response_model=PreparationOut,
    summary="Record the patient's REMS enrolment (intranasal esketamine)",
    description="Only for protocols that require it (rems_not_applicable). " + RULES,
)
async def post_rems(
    course_id: UUID, body: prep.RemsEnrollmentIn, units: UnitsDep, book: BookDep, actor: Actor
) -> PreparationOut:
    return PreparationOut.model_validate(
        await checklist.record_item(units, book, course_id, "rems_enrollment", body, actor, prep.check_rems)
    )
