"""One staff action on an appointment or a course = one transaction with the course locked (a
``db.transaction``: what it emits wakes this process's relay in-process once committed, and so does
a booking's no-show timer the timer worker; other timers it schedules NOTIFY at commit)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from uuid import UUID

import asyncpg

from katflow_shared import db
from katflow_shared.runtime import Runtime

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_courses as courses
from ..domain.appointments import Appointment
from ..domain.course import CoursePlan
from .deps import Emit


@dataclass(frozen=True)
class Unit:
    conn: asyncpg.Connection
    plan: CoursePlan
    now: datetime
    emit: Emit


@dataclass(frozen=True)
class AppointmentUnit(Unit):
    appt: Appointment


@contextlib.asynccontextmanager
async def course_unit(runtime: Runtime, course_id: UUID) -> AsyncIterator[Unit]:
    async with runtime.pool.acquire() as conn, db.transaction(conn):
        plan = await courses.lock_course(conn, course_id)
        yield Unit(conn, plan, runtime.clock.now(), partial(runtime.emitter.emit, conn))


@contextlib.asynccontextmanager
async def appointment_unit(runtime: Runtime, appointment_id: UUID) -> AsyncIterator[AppointmentUnit]:
    course_id = (await appointments.get(runtime.pool, appointment_id)).course_id
    async with runtime.pool.acquire() as conn, db.transaction(conn):
        plan = await courses.lock_course(conn, course_id)
        appt = await appointments.get(conn, appointment_id)
        yield AppointmentUnit(conn, plan, runtime.clock.now(), partial(runtime.emitter.emit, conn), appt)
