"""Admins change the clinic: clinicians, rooms, opening hours, closures, time off. Each change is in
force at once, emits its event, and never leaves a booking silently invalid (``service_layer.admin``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID, uuid4

from katflow_shared.contracts import (
    ClinicianUpdated,
    ClosureAdded,
    ClosureRemoved,
    OpeningHoursChanged,
    RoomUpdated,
    TimeOffAdded,
    TimeOffRemoved,
)
from katflow_shared.contracts.common import ClinicChange
from katflow_shared.errors import RuleViolation
from katflow_shared.runtime import Runtime

from ..adapters import postgres_clinic as store
from ..domain.clinic import Clinician, Hours, Room, TimeOff
from .admin import clinic_change, from_now, on_days
from .deps import Deps
from .resettle import Resettled


@dataclass(frozen=True)
class Changed:
    """What a change did to appointments already booked."""

    resettled: list[Resettled]


async def save_clinician(runtime: Runtime, deps: Deps, clinician: Clinician) -> tuple[bool, Changed]:
    """Add or change a clinician (their time off is kept); (created, what moved)."""
    async with clinic_change(runtime, deps, from_now(deps, clinician.id)) as u:
        created = all(c.id != clinician.id for c in deps.clinic.clinicians)
        await store.upsert_clinician(u.conn, u.clinic_id, clinician)
        await u.in_force()
        await u.resettle(from_now(deps, clinician.id), ClinicChange.CLINICIAN_CHANGED)
        await u.emit(
            ClinicianUpdated(
                clinic_id=u.clinic_id, changed_at=u.now, clinician_id=clinician.id, created=created
            )
        )
    return created, Changed(u.resettled)


async def change_room(runtime: Runtime, deps: Deps, room: Room) -> tuple[bool, Changed]:
    """Add or change a room; (created, what moved). Doses booked in it whose protocol needs a
    capability it no longer has are resettled like a closure's (``service_layer.resettle``)."""
    affected = from_now(deps, room_id=room.id)
    async with clinic_change(runtime, deps, affected) as u:
        created = all(r.id != room.id for r in deps.clinic.rooms)
        await store.upsert_room(u.conn, u.clinic_id, room)
        await u.in_force()
        await u.resettle(affected, ClinicChange.ROOM_CHANGED)
        await u.emit(
            RoomUpdated(
                clinic_id=u.clinic_id,
                changed_at=u.now,
                room_id=room.id,
                created=created,
                moved=u.moved,
                displaced=u.displaced,
            )
        )
    return created, Changed(u.resettled)


async def set_opening_hours(runtime: Runtime, deps: Deps, hours: Hours) -> Changed:
    async with clinic_change(runtime, deps, from_now(deps)) as u:
        await store.set_opening_hours(u.conn, u.clinic_id, hours)
        await u.in_force()
        await u.resettle(from_now(deps), ClinicChange.OPENING_HOURS)
        await u.emit(OpeningHoursChanged(clinic_id=u.clinic_id, changed_at=u.now))
    return Changed(u.resettled)


async def add_closure(runtime: Runtime, deps: Deps, day: date, label: str) -> Changed:
    async with clinic_change(runtime, deps, on_days(deps, day, day)) as u:
        if not await store.add_closure(u.conn, u.clinic_id, day, label):
            raise RuleViolation(["day"], "already_closed", "the clinic is closed that day already", 409)
        await u.in_force()
        await u.resettle(on_days(deps, day, day), ClinicChange.CLOSURE)
        await u.emit(
            ClosureAdded(
                clinic_id=u.clinic_id, changed_at=u.now, day=day, moved=u.moved, displaced=u.displaced
            )
        )
    return Changed(u.resettled)


async def remove_closure(runtime: Runtime, deps: Deps, day: date) -> None:
    async with clinic_change(runtime, deps) as u:
        if not await store.remove_closure(u.conn, u.clinic_id, day):
            raise RuleViolation(["day"], "closure_not_found", "the clinic is not closed that day", 404)
        await u.in_force()
        await u.emit(ClosureRemoved(clinic_id=u.clinic_id, changed_at=u.now, day=day))


async def add_time_off(
    runtime: Runtime, deps: Deps, clinician_id: str, first_day: date, last_day: date
) -> tuple[UUID, Changed]:
    _clinician(deps, clinician_id)
    off = TimeOff(id=uuid4(), first_day=first_day, last_day=last_day)
    affected = on_days(deps, first_day, last_day, clinician_id)
    async with clinic_change(runtime, deps, affected) as u:
        await store.add_time_off(u.conn, u.clinic_id, clinician_id, off)
        await u.in_force()
        await u.resettle(affected, ClinicChange.TIME_OFF)
        await u.emit(
            TimeOffAdded(
                clinic_id=u.clinic_id,
                changed_at=u.now,
                time_off_id=off.id,
                clinician_id=clinician_id,
                first_day=first_day,
                last_day=last_day,
                moved=u.moved,
                displaced=u.displaced,
            )
        )
    return off.id, Changed(u.resettled)


async def remove_time_off(runtime: Runtime, deps: Deps, clinician_id: str, time_off_id: UUID) -> None:
    async with clinic_change(runtime, deps) as u:
        if not await store.remove_time_off(u.conn, clinician_id, time_off_id):
            raise RuleViolation(["time_off_id"], "time_off_not_found", "no such time off", 404)
        await u.in_force()
        await u.emit(
            TimeOffRemoved(
                clinic_id=u.clinic_id, changed_at=u.now, time_off_id=time_off_id, clinician_id=clinician_id
            )
        )


def _clinician(deps: Deps, clinician_id: str) -> Clinician:
    found = next((c for c in deps.clinic.clinicians if c.id == clinician_id), None)
    if found is None:
        raise RuleViolation(["clinician_id"], "clinician_not_found", "no such clinician", 404)
    return found
