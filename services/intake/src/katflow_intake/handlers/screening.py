"""Screening, eligibility and urgent review: each staff action one transaction, events in the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared.contracts import EligibilityDecided, UrgentReviewRequired
from katflow_shared.contracts.common import EligibilityOutcome, Route
from katflow_shared.errors import RuleViolation
from katflow_shared.runtime import Runtime
from katflow_shared.treatment_protocols import Protocol, ProtocolBook

from ..adapters import postgres_course as store
from ..domain.course import Course, Phase, phase_after_decision, require_not_halted
from ..domain.screening import EligibilityIn, ResolveIn, ScreeningIn, assess, check_decision
from . import protocols
from .preparation import complete_if_ready


async def record_screening(
    runtime: Runtime, book: ProtocolBook, course_id: UUID, body: ScreeningIn, by: str
) -> dict[str, Any]:
    now = runtime.clock.now()
    assessment = assess(body, book.screening)
    async with runtime.pool.acquire() as conn, conn.transaction():
        course = await store.lock_course(conn, course_id)
        require_not_halted(course)
        screening_id = await store.insert_screening(
            conn, course_id, body, assessment, book.screening.id, by, now
        )
        if assessment.high_risk:  # automation stops; a clinician is alerted (never quiet-houred)
            alert_id = await store.halt(conn, course_id, screening_id, now)
            await runtime.emitter.emit(conn, _alert(alert_id, course, now))
        elif course.phase is Phase.CONSULTATION:
            await store.set_phase(conn, course_id, Phase.SCREENED)
    return {
        "screening_id": screening_id,
        "halted": assessment.high_risk,
        "blocking_contraindications": [c.value for c in assessment.blocking],
        "review_flags": assessment.review_flags,
        "suggested_outcome": assessment.suggested.value,
    }


def _alert(alert_id: UUID, course: Course, now: datetime) -> UrgentReviewRequired:
    return UrgentReviewRequired(
        alert_id=alert_id, course_id=course.id, patient_id=course.patient_id, raised_at=now
    )


async def decide_eligibility(
    runtime: Runtime, book: ProtocolBook, course_id: UUID, body: EligibilityIn, by: str
) -> dict[str, Any]:
    now = runtime.clock.now()
    async with runtime.pool.acquire() as conn, conn.transaction():
        course = await store.lock_course(conn, course_id)
        require_not_halted(course)
        latest = await store.latest_screening(conn, course_id)
        check_decision(body, latest[1] if latest else None)
        protocol = await _protocol_for(conn, course, book, body)
        decision = {
            **body.model_dump(),
            "protocol_version": protocol.id if protocol else None,
            "decided_by": by,
        }
        await store.insert_decision(conn, course_id, latest[0] if latest else None, decision, now)
        await store.set_phase(
            conn, course_id, phase_after_decision(body.outcome, course.prepared_at is not None)
        )
        await runtime.emitter.emit(conn, _decided(course, body.outcome, body.route, now))
        missing = await complete_if_ready(runtime, conn, course, protocol) if protocol else None
    return {**decision, "course_id": course_id, "missing": missing}


def _decided(
    course: Course, outcome: EligibilityOutcome, route: Route | None, now: datetime
) -> EligibilityDecided:
    return EligibilityDecided(
        course_id=course.id, patient_id=course.patient_id, outcome=outcome, route=route, decided_at=now
    )


async def _protocol_for(
    conn: asyncpg.Connection, course: Course, book: ProtocolBook, body: EligibilityIn
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
    return await protocols.active(conn, book, body.route)


async def resolve_urgent_review(
    runtime: Runtime, course_id: UUID, body: ResolveIn, by: str
) -> dict[str, Any]:
    now = runtime.clock.now()
    async with runtime.pool.acquire() as conn, conn.transaction():
        course = await store.lock_course(conn, course_id)
        if course.halted_at is None:
            raise RuleViolation(["course_id"], "no_urgent_review", "the course is not halted", 409)
        await store.resolve_alerts(conn, course_id, body.decision, by, now)
        if body.decision == "end":
            await store.set_phase(conn, course_id, Phase.ENDED)
            await runtime.emitter.emit(conn, _decided(course, EligibilityOutcome.NOT_ELIGIBLE, None, now))
    return {
        "course_id": course_id,
        "decision": body.decision,
        "next": "rescreen and decide eligibility" if body.decision == "resume" else "ended",
    }
