"""The preparation checklist: record a step; emit PreparationCompleted exactly once when complete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from katflow_shared.contracts import PreparationCompleted
from katflow_shared.runtime import Runtime
from katflow_shared.treatment_protocols import Protocol, ProtocolBook

from ..adapters import postgres_course as store
from ..domain.course import Course, require_preparation
from ..domain.preparation import PreparationSessionIn, missing

Check = Callable[[Protocol], None]


async def record_item(
    runtime: Runtime,
    book: ProtocolBook,
    course_id: UUID,
    item: str,
    body: BaseModel,
    by: str,
    check: Check | None = None,
) -> dict[str, Any]:
    now = runtime.clock.now()
    async with runtime.pool.acquire() as conn, conn.transaction():
        course = await store.lock_course(conn, course_id)
        protocol = book.get(require_preparation(course))
        if check is not None:
            check(protocol)
        await store.put_item(conn, course_id, item, body.model_dump(mode="json"), by, now)
        still = await complete_if_ready(runtime, conn, course, protocol)
    return {"course_id": course_id, "protocol_version": protocol.id, "missing": still, "prepared": not still}


async def record_session(
    runtime: Runtime, book: ProtocolBook, course_id: UUID, body: PreparationSessionIn
) -> dict[str, Any]:
    now = runtime.clock.now()
    async with runtime.pool.acquire() as conn, conn.transaction():
        course = await store.lock_course(conn, course_id)
        protocol = book.get(require_preparation(course))
        await store.add_session(conn, course_id, body.model_dump(), now)
        still = await complete_if_ready(runtime, conn, course, protocol)
    return {"course_id": course_id, "protocol_version": protocol.id, "missing": still, "prepared": not still}


async def complete_if_ready(
    runtime: Runtime, conn: asyncpg.Connection, course: Course, protocol: Protocol
) -> list[str]:
    """Emit PreparationCompleted the first time nothing is missing; return what is missing."""
    still = missing(await store.checklist(conn, course.id), protocol)
    now = runtime.clock.now()
    if not still and await store.mark_prepared(conn, course.id, now):
        event = PreparationCompleted(
            course_id=course.id,
            patient_id=course.patient_id,
            route=protocol.route,
            protocol_version=protocol.id,
            patient_time_zone=course.time_zone,
            completed_at=now,
        )
        await runtime.emitter.emit(conn, event)
    return still


async def status(runtime: Runtime, book: ProtocolBook, course_id: UUID) -> dict[str, Any]:
    course = await store.get_course(runtime.pool, course_id)
    checklist = await store.checklist(runtime.pool, course_id)
    protocol = book.get(course.protocol_version) if course.protocol_version else None
    return {
        "course_id": course_id,
        "phase": course.phase.value,
        "halted": course.halted_at is not None,
        "route": course.route.value if course.route else None,
        "protocol_version": course.protocol_version,
        "sessions_held": checklist.sessions_held,
        "recorded": sorted(checklist.items),
        "missing": missing(checklist, protocol) if protocol else None,
        "prepared_at": course.prepared_at,
    }
