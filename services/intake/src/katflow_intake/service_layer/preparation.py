"""The preparation checklist: record a step; emit PreparationCompleted exactly once when complete."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel

from katflow_shared.contracts import PreparationCompleted
from katflow_shared.treatment_protocols import Protocol, ProtocolBook
from katflow_shared.unit_of_work import UnitOfWork, Units

from ..adapters import postgres_course as store
from ..domain.course import Course, require_preparation
from ..domain.preparation import missing

Check = Callable[[Protocol], None]


@dataclass(frozen=True)
class Preparation:
    """Where a course's checklist stands after a step was recorded."""

    course_id: UUID
    protocol_version: str
    missing: list[str]
    prepared: bool


@dataclass(frozen=True)
class CourseStatus:
    course_id: UUID
    phase: str
    halted: bool
    route: str | None
    protocol_version: str | None
    sessions_held: int
    recorded: list[str]
    missing: list[str] | None
    prepared_at: datetime | None


async def record_item(
    units: Units,
    book: ProtocolBook,
    course_id: UUID,
    item: str,
    body: BaseModel,
    by: str,
    check: Check | None = None,
) -> Preparation:
    async with units.start() as uow:
        course = await store.lock_course(uow.conn, course_id)
        protocol = book.get(require_preparation(course))
        if check is not None:
            check(protocol)
        await store.put_item(uow.conn, course_id, item, body.model_dump(mode="json"), by, uow.now)
        still = await complete_if_ready(uow, course, protocol)
    return Preparation(course_id, protocol.id, still, not still)


async def record_session(units: Units, book: ProtocolBook, course_id: UUID, body: BaseModel) -> Preparation:
    async with units.start() as uow:
        course = await store.lock_course(uow.conn, course_id)
        protocol = book.get(require_preparation(course))
        await store.add_session(uow.conn, course_id, body.model_dump(), uow.now)
        still = await complete_if_ready(uow, course, protocol)
    return Preparation(course_id, protocol.id, still, not still)


async def complete_if_ready(uow: UnitOfWork, course: Course, protocol: Protocol) -> list[str]:
    """Emit PreparationCompleted the first time nothing is missing; return what is missing."""
    still = missing(await store.checklist(uow.conn, course.id), protocol)
    if not still and await store.mark_prepared(uow.conn, course.id, uow.now):
        event = PreparationCompleted(
            **course.event_fields(),
            route=protocol.route,
            protocol_version=protocol.id,
            patient_time_zone=course.time_zone,
            completed_at=uow.now,
        )
        uow.emit(event)
    return still


async def status(units: Units, book: ProtocolBook, course_id: UUID) -> CourseStatus:
    async with units.start(one_statement=True) as uow:  # reads only
        course = await store.get_course(uow.conn, course_id)
        checklist = await store.checklist(uow.conn, course_id)
    protocol = book.get(course.protocol_version) if course.protocol_version else None
    return CourseStatus(
        course_id=course_id,
        phase=course.phase.value,
        halted=course.halted_at is not None,
        route=course.route.value if course.route else None,
        protocol_version=course.protocol_version,
        sessions_held=checklist.sessions_held,
        recorded=sorted(checklist.items),
        missing=missing(checklist, protocol) if protocol else None,
        prepared_at=course.prepared_at,
    )
