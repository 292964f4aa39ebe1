"""What scheduling's use cases decide with besides their unit of work: the clinic, the protocols and
the clock."""

from __future__ import annotations

from dataclasses import dataclass

from katflow_shared.clock import Clock
from katflow_shared.messaging.errors import PermanentError
from katflow_shared.treatment_protocols import Protocol, ProtocolBook

from ..domain.clinic import ClinicConfig
from ..domain.course import CoursePlan
from ..domain.reservations import Need
from .clinics import Clinics


@dataclass(frozen=True)
class Deps:
    clinics: Clinics  # the clinic as the database has it (changed by admins at run time)
    protocols: ProtocolBook
    clock: Clock

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
