"""scheduling's admin API (role admin): the clinic — clinicians, rooms, opening hours, closures, time
off — changed at run time, and the protocol versions on file. Who acts is the credential's subject
(the HTTP audit record); no body names it."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Response
from pydantic import Field

from katflow_shared.auth import admits
from katflow_shared.errors import RuleViolation
from katflow_shared.roles import Role
from katflow_shared.runtime import UnitsDep
from katflow_shared.treatment_protocols import Protocol

from ..domain.clinic import Room
from ..service_layer import clinic_admin as admin
from ..service_layer.clinic_admin import Changed
from ..service_layer.deps import Deps
from .admin_bodies import (
    AffectedOut,
    ChangeOut,
    ClinicianIn,
    ClinicianOut,
    ClinicOut,
    ClosureIn,
    OpeningHoursIn,
    ProtocolOut,
    RoomIn,
    TimeOffIn,
    TimeOffOut,
    to_hours,
)
from .deps import DepsDep

router = APIRouter(
    prefix="/v1/admin", tags=["clinic administration (admin)"], dependencies=[admits(Role.ADMIN)]
)
ResourceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")]
MOVES = (
    " Appointments the change leaves invalid are listed in `affected`: given another qualified "
    "clinician at the same time (reassigned), moved to the first later time the reschedule rules allow "
    "(moved: AppointmentRescheduled, the patient is told), or left in place and reported to staff "
    "(displaced: AppointmentDisplaced)."
)


def _changed(changed: Changed) -> ChangeOut:
    return ChangeOut(affected=[AffectedOut(**vars(r)) for r in changed.resettled])


@router.get("/clinic", response_model=ClinicOut, summary="The clinic as bookings see it now")
async def clinic(deps: DepsDep) -> ClinicOut:
    return ClinicOut.of(deps.clinic)


@router.get("/clinicians", response_model=list[ClinicianOut], summary="Clinicians, with their time off")
async def clinicians(deps: DepsDep) -> list[ClinicianOut]:
    return [ClinicianOut.of(c) for c in deps.clinic.clinicians]


@router.put(
    "/clinicians/{clinician_id}",
    response_model=ChangeOut,
    summary="Add or change a clinician (emits ClinicianUpdated; 201 when new)",
    description="Roles, qualifications and weekly hours; time off is kept." + MOVES,
)
async def put_clinician(
    clinician_id: ResourceId, body: ClinicianIn, units: UnitsDep, deps: DepsDep, response: Response
) -> ChangeOut:
    clinician = body.clinician(clinician_id)
    created, changed = await admin.save_clinician(units, deps, clinician)
    response.status_code = 201 if created else 200
    return _changed(changed)


@router.get("/rooms", response_model=list[Room], summary="Rooms, with their capabilities")
async def rooms(deps: DepsDep) -> list[Room]:
    return deps.clinic.rooms


@router.put(
    "/rooms/{room_id}",
    status_code=200,
    summary="Add or change a room (emits RoomUpdated; 201 when new)",
    description="Used by the next booking. A protocol may require capabilities of a dosing room "
    "(dosing.room_capabilities).",
)
async def put_room(
    room_id: ResourceId, body: RoomIn, units: UnitsDep, deps: DepsDep, response: Response
) -> Room:
    room = Room(id=room_id, **body.model_dump())
    created, _ = await admin.change_room(units, deps, room)
    response.status_code = 201 if created else 200
    return room


@router.put(
    "/opening-hours",
    response_model=ChangeOut,
    summary="Set the weekly opening hours (emits OpeningHoursChanged)",
    description=MOVES.strip(),
)
async def put_opening_hours(body: OpeningHoursIn, units: UnitsDep, deps: DepsDep) -> ChangeOut:
    return _changed(await admin.set_opening_hours(units, deps, to_hours(body.opening_hours)))


@router.post(
    "/closures",
    status_code=201,
    response_model=ChangeOut,
    summary="Close the clinic on a day (emits ClosureAdded)",
    description="Nothing is booked on a closed day (already_closed, 409, when it is)." + MOVES,
)
async def add_closure(body: ClosureIn, units: UnitsDep, deps: DepsDep) -> ChangeOut:
    return _changed(await admin.add_closure(units, deps, body.day, body.label))


@router.delete("/closures/{day}", status_code=204, summary="Open a closed day again (emits ClosureRemoved)")
async def remove_closure(day: date, units: UnitsDep, deps: DepsDep) -> None:
    await admin.remove_closure(units, deps, day)


@router.post(
    "/clinicians/{clinician_id}/time-off",
    status_code=201,
    response_model=TimeOffOut,
    summary="A clinician is away for whole days (emits TimeOffAdded)",
    description="First and last day included (clinic's zone)." + MOVES,
)
async def add_time_off(
    clinician_id: ResourceId, body: TimeOffIn, units: UnitsDep, deps: DepsDep
) -> TimeOffOut:
    time_off_id, changed = await admin.add_time_off(units, deps, clinician_id, body.first_day, body.last_day)
    return TimeOffOut(time_off_id=time_off_id, affected=_changed(changed).affected)


@router.delete(
    "/clinicians/{clinician_id}/time-off/{time_off_id}",
    status_code=204,
    summary="Withdraw a clinician's time off (emits TimeOffRemoved)",
)
async def remove_time_off(
    clinician_id: ResourceId, time_off_id: UUID, units: UnitsDep, deps: DepsDep
) -> None:
    await admin.remove_time_off(units, deps, clinician_id, time_off_id)


@router.get("/protocols", response_model=list[ProtocolOut], summary="The protocol versions on file")
async def protocols(deps: DepsDep) -> list[ProtocolOut]:
    on_file = sorted(deps.protocols.protocols.values(), key=lambda p: (p.route.value, p.version))
    return [ProtocolOut(**_protocol(deps, p).model_dump(exclude={"protocol"})) for p in on_file]


def _protocol(deps: Deps, p: Protocol) -> ProtocolDetailOut:
    current = deps.protocols.current(p.route).id == p.id
    return ProtocolDetailOut(id=p.id, route=p.route.value, version=p.version, current=current, protocol=p)


class ProtocolDetailOut(ProtocolOut):
    protocol: Protocol = Field(description="The version as on file.")


@router.get(
    "/protocols/{protocol_id}", response_model=ProtocolDetailOut, summary="One protocol version, in full"
)
async def protocol(protocol_id: Annotated[str, Path(max_length=40)], deps: DepsDep) -> ProtocolDetailOut:
    if protocol_id not in deps.protocols.protocols:
        raise RuleViolation(["protocol_id"], "protocol_not_found", "no such protocol version", 404)
    return _protocol(deps, deps.protocols.get(protocol_id))
