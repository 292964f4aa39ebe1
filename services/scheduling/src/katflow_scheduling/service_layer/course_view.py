"""A course as staff read it: dosing progress, session records and the series plan (planned
against booked). Read only, from the pool: no unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from katflow_shared.contracts.common import Route

from ..adapters import postgres_courses as courses
from ..adapters import postgres_plans as plans
from ..adapters import postgres_sessions as sessions
from .deps import Deps


@dataclass(frozen=True)
class CourseProgress:
    course_id: UUID
    status: str
    route: Route | None
    protocol_version: str | None
    doses_given: int
    total_doses: int | None
    integration_outstanding: bool
    sessions: list[dict[str, Any]]  # session rows (sessions.of_course)
    doses: list[dict[str, Any]]  # planned against booked (plans.doses_of_course)


async def progress(pool: asyncpg.Pool, deps: Deps, course_id: UUID) -> CourseProgress:
    plan = await courses.load_plan(pool, course_id)
    total = deps.protocol(plan.protocol_version).total_doses if plan.protocol_version else None
    return CourseProgress(
        course_id=plan.id,
        status=plan.status.value,
        route=plan.route,
        protocol_version=plan.protocol_version,
        doses_given=plan.doses_given,
        total_doses=total,
        integration_outstanding=plan.integration_outstanding,
        sessions=[dict(r) for r in await sessions.of_course(pool, course_id)],
        doses=[dict(r) for r in await plans.doses_of_course(pool, course_id, deps.clinic.time_zone)],
    )
