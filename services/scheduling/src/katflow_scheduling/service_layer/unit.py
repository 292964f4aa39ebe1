"""One staff action on a course or an appointment = one unit of work (``katflow_shared.unit_of_work``)
with the course locked: reads on ``uow.conn``, what it emits, audits and schedules sent with its last
statement, committed together; the relay and the timer workers woken once committed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from uuid import UUID

from katflow_shared.unit_of_work import UnitOfWork, Units

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_courses as courses
from ..domain.appointments import Appointment
from ..domain.course import CoursePlan


@contextlib.asynccontextmanager
async def course_unit(units: Units, course_id: UUID) -> AsyncIterator[tuple[UnitOfWork, CoursePlan]]:
    """A unit with the course locked: (the unit, the course's plan)."""
    async with units.start() as uow:
        yield uow, await courses.lock_course(uow.conn, course_id)


@contextlib.asynccontextmanager
async def appointment_unit(
    units: Units, appointment_id: UUID
) -> AsyncIterator[tuple[UnitOfWork, CoursePlan, Appointment]]:
    """A unit with the appointment's course locked: (the unit, the plan, the appointment read under
    the lock)."""
    course_id = (await appointments.get(units.pool, appointment_id)).course_id
    async with units.start() as uow:
        plan = await courses.lock_course(uow.conn, course_id)
        yield uow, plan, await appointments.get(uow.conn, appointment_id)
