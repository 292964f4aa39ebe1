"""What scheduling's handlers need besides a connection: configuration and the clock."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from katflow_shared.clock import Clock
from katflow_shared.contracts import Event
from katflow_shared.db import Part
from katflow_shared.messaging.errors import PermanentError
from katflow_shared.protocols import Protocol, ProtocolBook

from ..domain.clinic import ClinicConfig
from ..domain.course import CoursePlan
from ..domain.reservations import Need


class Emit(typing.Protocol):
    """Write an event to the outbox in the transaction at hand (with writes ``together`` with it,
    as one statement: ``Emitter.emit``)."""

    async def __call__(
        self, event: Event, *, together: Sequence[Part] = (), results: Sequence[Part] = ()
    ) -> Any: ...


@dataclass(frozen=True)
class Deps:
    clinic: ClinicConfig
    protocols: ProtocolBook
    clock: Clock

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

    def need(self, role: str, with_room: bool) -> Need:
        rooms = tuple(r.id for r in self.clinic.rooms) if with_room else ()
        return Need(tuple(c.id for c in self.clinic.clinicians_for(role)), rooms)
