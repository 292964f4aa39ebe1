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
from katflow_shared.unit_of_work import Units

from ..adapters import postgres_clinic as store
from ..domain.clinic import Clinician, Hours, Room, TimeOff
from .admin import clinic_change, from_now, on_days
from .deps import Deps
from .resettle import Resettled


@dataclass(frozen=True)
class Changed:
    """What a change did to appointments already booked."""

    resettled: list[Resettled]


async def save_clinician(units: Units, deps: Deps, clinician: Clinician) -> tuple[bool, Changed]:
    """Add or change a clinician (their time off is kept); (created, what moved)."""
    async with clinic_change(units, deps, from_now(deps, clinician.id)) as (uow, change):
        created = all(c.id != clinician.id for c in deps.clinic.clinicians)
        await store.upsert_clinician(uow.conn, change.clinic_id, clinician)
        await change.in_force()
        await change.resettle(from_now(deps, clinician.id), ClinicChange.CLINICIAN_CHANGED)
        uow.emit(ClinicianUpdated(**change.event_fields(), clinician_id=clinician.id, created=created))
    return created, Changed(change.resettled)


async def change_room(units: Units, deps: Deps, room: Room) -> tuple[bool, Changed]:
    """Add or change a room; (created, what moved). Doses booked in it whose protocol needs a
    capability it no longer has are resettled like a closure's (``service_layer.resettle``)."""
    affected = from_now(deps, room_id=room.id)
    async with clinic_change(units, deps, affected) as (uow, change):
        created = all(r.id != room.id for r in deps.clinic.rooms)
        await store.upsert_room(uow.conn, change.clinic_id, room)
        await change.in_force()
        await change.resettle(affected, ClinicChange.ROOM_CHANGED)
        uow.emit(RoomUpdated(**change.event_fields(), room_id=room.id, created=created, **change.counts()))
    return created, Changed(change.resettled)


async def set_opening_hours(units: Units, deps: Deps, hours: Hours) -> Changed:
    async with clinic_change(units, deps, from_now(deps)) as (uow, change):
        await store.set_opening_hours(uow.conn, change.clinic_id, hours)
        await change.in_force()
        await change.resettle(from_now(deps), ClinicChange.OPENING_HOURS)
        uow.emit(OpeningHoursChanged(**change.event_fields()))
    return Changed(change.resettled)


async def add_closure(units: Units, deps: Deps, day: date, label: str) -> Changed:
    async with clinic_change(units, deps, on_days(deps, day, day)) as (uow, change):
        if not await store.add_closure(uow.conn, change.clinic_id, day, label):
            raise RuleViolation(["day"], "already_closed", "the clinic is closed that day already", 409)
        await change.in_force()
        await change.resettle(on_days(deps, day, day), ClinicChange.CLOSURE)
        uow.emit(ClosureAdded(**change.event_fields(), day=day, **change.counts()))
    return Changed(change.resettled)


async def remove_closure(units: Units, deps: Deps, day: date) -> None:
    async with clinic_change(units, deps) as (uow, change):
        if not await store.remove_closure(uow.conn, change.clinic_id, day):
            raise RuleViolation(["day"], "closure_not_found", "the clinic is not closed that day", 404)
        await change.in_force()
        uow.emit(ClosureRemoved(**change.event_fields(), day=day))


async def add_time_off(
    units: Units, deps: Deps, clinician_id: str, first_day: date, last_day: date
) -> tuple[UUID, Changed]:
    _clinician(deps, clinician_id)
    off = TimeOff(id=uuid4(), first_day=first_day, last_day=last_day)
    affected = on_days(deps, first_day, last_day, clinician_id)
    async with clinic_change(units, deps, affected) as (uow, change):
        await store.add_time_off(uow.conn, change.clinic_id, clinician_id, off)
        await change.in_force()
        await change.resettle(affected, ClinicChange.TIME_OFF)
        uow.emit(
            TimeOffAdded(
                **change.event_fields(),
                time_off_id=off.id,
                clinician_id=clinician_id,
                first_day=first_day,
                last_day=last_day,
                **change.counts(),
            )
        )
    return off.id, Changed(change.resettled)


async def remove_time_off(units: Units, deps: Deps, clinician_id: str, time_off_id: UUID) -> None:
    async with clinic_change(units, deps) as (uow, change):
        if not await store.remove_time_off(uow.conn, clinician_id, time_off_id):
            raise RuleViolation(["time_off_id"], "time_off_not_found", "no such time off", 404)
        await change.in_force()
        uow.emit(TimeOffRemoved(**change.event_fields(), time_off_id=time_off_id, clinician_id=clinician_id))


def _clinician(deps: Deps, clinician_id: str) -> Clinician:
    found = next((c for c in deps.clinic.clinicians if c.id == clinician_id), None)
    if found is None:
        raise RuleViolation(["clinician_id"], "clinician_not_found", "no such clinician", 404)
    return found
