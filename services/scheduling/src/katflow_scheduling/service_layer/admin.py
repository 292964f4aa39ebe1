"""Clinic administration: each change one unit of work under the calendar lock (no booking decides
meanwhile), with the clinic version bumped (every process's snapshot and every search watermark
is replaced), the changed clinic in force in this process at once, its event emitted, and the
appointments it leaves invalid resettled (``resettle``): outside the hours, with a clinician who no
longer has the role or works then, or in a room without a capability the appointment needs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import TypedDict
from uuid import UUID

import asyncpg

from katflow_shared.contracts.common import AppointmentKind, ClinicChange
from katflow_shared.unit_of_work import UnitOfWork, Units

from ..adapters import postgres_appointments as appointments
from ..adapters import postgres_calendar as calendar
from ..adapters import postgres_clinic as store
from ..adapters import postgres_courses as courses
from ..domain.appointments import Status, host_role
from ..domain.clinic import ClinicConfig
from ..domain.reservations import still_holds
from ..domain.series import day_bounds
from . import steps
from .deps import Deps
from .resettle import Resettled, resettle, room_capabilities

Affected = Callable[[asyncpg.Connection], Awaitable[list[UUID]]]


class ClinicEventFields(TypedDict):
    clinic_id: str
    changed_at: datetime


class ResettledCounts(TypedDict):
    moved: int
    displaced: int


@dataclass
class Change:
    """An admin change in its unit of work: puts the changed clinic in force, resettles what no
    longer fits it, and says how many appointments it moved or displaced."""

    uow: UnitOfWork
    deps: Deps
    resettled: list[Resettled] = field(default_factory=list)

    @property
    def clinic_id(self) -> str:
        return self.deps.clinic.clinic_id

    async def in_force(self) -> ClinicConfig:
        """The change written: a new version, and the clinic as it now stands in force here. It may
        have made room (a clinician, a room, hours, a day open again): the longest-waiting booking
        of each kind looks for a slot now, as after a cancellation."""
        conn = self.uow.conn
        version = await store.changed(conn)
        clinic, _ = await store.load(conn, self.clinic_id)
        self.deps.clinics.replace(clinic, version)
        for kind in (AppointmentKind.CONSULTATION, AppointmentKind.DOSING):
            await steps.wake_waiting(conn, kind, self.uow.now)
        return clinic

    async def resettle(self, affected: Affected, cause: ClinicChange) -> None:
        """Move what no longer fits the clinic among the appointments ``affected`` finds."""
        for appointment_id in await affected(self.uow.conn):
            appt = await appointments.get(self.uow.conn, appointment_id)
            role = host_role(appt.kind)
            needs = room_capabilities(self.deps, appt)
            clinic, room = self.deps.clinic, appt.room_id
            if appt.status is Status.SCHEDULED and not still_holds(
                clinic, role, appt.clinician_id, appt.starts_at, appt.ends_at, room, needs
            ):
                found = await resettle(self.uow, self.deps, appt.id, cause)
                self.resettled.append(found)

    def event_fields(self) -> ClinicEventFields:
        """What every clinic event says of the change: which clinic, and when."""
        return ClinicEventFields(clinic_id=self.clinic_id, changed_at=self.uow.now)

    def counts(self) -> ResettledCounts:
        """How many appointments the change moved or gave another clinician or room, and how many it
        could not move (displaced)."""
        moved = sum(1 for r in self.resettled if r.outcome in ("moved", "reassigned"))
        displaced = sum(1 for r in self.resettled if r.outcome == "displaced")
        return ResettledCounts(moved=moved, displaced=displaced)


@contextlib.asynccontextmanager
async def clinic_change(
    units: Units, deps: Deps, affected: Affected | None = None
) -> AsyncIterator[tuple[UnitOfWork, Change]]:
    """One admin change: (its unit of work, the change). The courses of the appointments ``affected``
    may find are locked before the calendar (the order bookings take them in); on failure this
    process keeps the clinic it had."""
    before = (deps.clinics.current, deps.clinics.version)
    try:
        async with units.start() as uow:
            conn = uow.conn
            if affected is not None:
                await _lock_courses(conn, await affected(conn))
            await calendar.lock_calendar(conn)
            if affected is not None:  # booked between the two reads: locked now (rare)
                await _lock_courses(conn, await affected(conn))
            yield uow, Change(uow, deps)
    except BaseException:
        deps.clinics.replace(*before)
        raise


async def _lock_courses(conn: asyncpg.Connection, appointment_ids: list[UUID]) -> None:
    ids = sorted({(await appointments.get(conn, a)).course_id for a in appointment_ids})
    for course_id in ids:
        await courses.lock_course(conn, course_id)


def on_days(deps: Deps, first: date, last: date, clinician_id: str | None = None) -> Affected:
    """The scheduled appointments starting on ``first``..``last`` (clinic's days)."""
    zone = deps.clinic.time_zone
    since, until = day_bounds(first, zone)[0], day_bounds(last, zone)[1]
    return partial(_between, since=since, until=until, clinician_id=clinician_id)


def from_now(deps: Deps, clinician_id: str | None = None, room_id: str | None = None) -> Affected:
    """The scheduled appointments from now to past the booking horizon (of a clinician, in a room)."""
    now = deps.clock.now()
    until = now + timedelta(days=deps.clinic.booking_horizon_days + 2)
    return partial(_between, since=now, until=until, clinician_id=clinician_id, room_id=room_id)


async def _between(
    conn: asyncpg.Connection,
    since: datetime,
    until: datetime,
    clinician_id: str | None,
    room_id: str | None = None,
) -> list[UUID]:
    return await store.booked_between(conn, since, until, clinician_id, room_id)
