"""What scheduling's handlers need besides a connection: the clinic, the protocols and the clock."""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

from katflow_shared import timers
from katflow_shared.clock import Clock
from katflow_shared.contracts import Event
from katflow_shared.messaging.emitter import Writes
from katflow_shared.messaging.errors import PermanentError
from katflow_shared.treatment_protocols import Protocol, ProtocolBook
from katflow_shared.wakeup import Announcer

from ..domain.clinic import ClinicConfig
from ..domain.course import CoursePlan
from ..domain.reservations import Need
from .clinics import Clinics


class Emit(typing.Protocol):
    """Write an event to the outbox in the transaction at hand (with the ``writes`` that go with it,
    as one statement: ``Emitter.emit``)."""

    async def __call__(self, event: Event, *, writes: Writes | None = None) -> Any: ...


@dataclass(frozen=True)
class Deps:
    clinics: Clinics  # the clinic as the database has it (changed by admins at run time)
    protocols: ProtocolBook
    clock: Clock
    # Wakes the timer workers: in-process while this process's runs (it attaches it), else NOTIFY.
    timing: Announcer = field(default_factory=lambda: Announcer(timers.CHANNEL))

    @property
    def clinic(self) -> ClinicConfig:
        """The current clinic: read it once per decision, it may be replaced between two reads."""
        return self.clinics.current

    def protocol(self, protocol_id: str | None) -> Protocol:
        """The pinned protocol; a version not on file cannot be fixed by retrying."""
        try:
            return self.protocols.get(protocol_id or "")
        except KeyError as exc:
            raise PermanentError(f"protocol {protocol_id!r} is not on file") from exc

    def protocol_of(self, plan: CoursePlan) -> Protocol:
        return self.protocol(plan.protocol_version)

    def grace_minutes(self, protocol_id: str | None) -> int:
        return (
            self.protocol(protocol_id).no_show_grace_minutes
            if protocol_id
            else self.clinic.no_show_grace_minutes
        )

    def need(self, role: str, with_room: bool, room_capabilities: tuple[str, ...] = ()) -> Need:
        """Who (and which rooms, having every one of ``room_capabilities``) can host ``role``."""
        clinic = self.clinic
        rooms = tuple(r.id for r in clinic.rooms_with(room_capabilities)) if with_room else ()
        return Need(tuple(c.id for c in clinic.clinicians_for(role)), rooms)
