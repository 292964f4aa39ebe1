"""Screening, eligibility and urgent review: each staff action one unit of work on the locked course."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from katflow_shared.contracts import EligibilityDecided, UrgentReviewRequired
from katflow_shared.contracts.common import EligibilityOutcome, Route
from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import Protocol, ProtocolBook
from katflow_shared.unit_of_work import UnitOfWork, Units

from ..adapters import postgres_course as store
from ..domain.course import Course, Phase, phase_after_decision, require_not_halted
from ..domain.screening import EligibilityIn, Resolution, ScreeningIn, assess, check_decision
from . import protocols
from .preparation import complete_if_ready


@dataclass(frozen=True)
class Screened:
    screening_id: UUID
    halted: bool
    blocking_contraindications: list[str]
    review_flags: list[str]
    suggested_outcome: str


@dataclass(frozen=True)
class Decided:
    course_id: UUID
    outcome: EligibilityOutcome
    route: Route | None
    flags_reviewed: bool
    protocol_version: str | None
    decided_by: str
    missing: list[str] | None  # the preparation checklist's, after an eligible decision


@dataclass(frozen=True)
class Resolved:
    course_id: UUID
    decision: str
    next: str


async def record_screening(
    units: Units, book: ProtocolBook, course_id: UUID, body: ScreeningIn, by: str
) -> Screened:
    assessment = assess(body, book.screening)
    async with units.start() as uow:
        course = await store.lock_course(uow.conn, course_id)
        require_not_halted(course)
        screening_id = await store.insert_screening(
            uow.conn, course_id, body, assessment, book.screening.id, by, uow.now
        )
        if assessment.high_risk:  # automation stops; a clinician is alerted (never quiet-houred)
            alert_id = await store.halt(uow.conn, course_id, screening_id, uow.now)
            uow.emit(_alert(alert_id, course, uow.now))
        elif course.phase is Phase.CONSULTATION:
            await store.set_phase(uow.conn, course_id, Phase.SCREENED)
    return Screened(
        screening_id=screening_id,
        halted=assessment.high_risk,
        blocking_contraindications=[c.value for c in assessment.blocking],
        review_flags=assessment.review_flags,
        suggested_outcome=assessment.suggested.value,
    )


def _alert(alert_id: UUID, course: Course, now: datetime) -> UrgentReviewRequired:
    return UrgentReviewRequired(alert_id=alert_id, **course.event_fields(), raised_at=now)


async def decide_eligibility(
    units: Units, book: ProtocolBook, course_id: UUID, body: EligibilityIn, by: str
) -> Decided:
    async with units.start() as uow:
        course = await store.lock_course(uow.conn, course_id)
        require_not_halted(course)
        latest = await store.latest_screening(uow.conn, course_id)
        check_decision(body, latest[1] if latest else None)
        protocol = await _protocol_for(uow, course, book, body)
        version = protocol.id if protocol else None
        decision = {**body.model_dump(), "protocol_version": version, "decided_by": by}
        await store.insert_decision(uow.conn, course_id, latest[0] if latest else None, decision, uow.now)
        await store.set_phase(
            uow.conn, course_id, phase_after_decision(body.outcome, course.prepared_at is not None)
        )
        uow.emit(_decided(course, body.outcome, body.route, uow.now))
        missing = await complete_if_ready(uow, course, protocol) if protocol else None
    return Decided(course_id, body.outcome, body.route, body.flags_reviewed, version, by, missing)


def _decided(
    course: Course, outcome: EligibilityOutcome, route: Route | None, now: datetime
) -> EligibilityDecided:
    return EligibilityDecided(**course.event_fields(), outcome=outcome, route=route, decided_at=now)


async def _protocol_for(
    uow: UnitOfWork, course: Course, book: ProtocolBook, body: EligibilityIn
) -> Protocol | None:
    """Pin the route's active protocol on the first eligible decision; keep it afterwards."""
    if body.outcome is not EligibilityOutcome.ELIGIBLE or body.route is None:
        return None
    if course.route is body.route and course.protocol_version:
        return book.get(course.protocol_version)
    if course.prepared_at is not None:
        raise RuleViolation(
            ["route"], "preparation_already_completed", "the course was prepared for another route", 409
        )
    return await protocols.active(uow.conn, book, body.route)


async def resolve_urgent_review(units: Units, course_id: UUID, decision: Resolution, by: str) -> Resolved:
    async with units.start() as uow:
        course = await store.lock_course(uow.conn, course_id)
        if course.halted_at is None:
            raise RuleViolation(["course_id"], "no_urgent_review", "the course is not halted", 409)
        await store.resolve_alerts(uow.conn, course_id, decision, by, uow.now)
        if decision == "end":
            await store.set_phase(uow.conn, course_id, Phase.ENDED)
            uow.emit(_decided(course, EligibilityOutcome.NOT_ELIGIBLE, None, uow.now))
    next_ = "rescreen and decide eligibility" if decision == "resume" else "ended"
    return Resolved(course_id, decision, next_)
