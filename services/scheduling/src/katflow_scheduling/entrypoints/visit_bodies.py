"""The staff API's request bodies for a visit, a change and a manual booking.

No body names who acts: that is the caller (``katflow_shared.auth.Actor``), and a body that tries
(``administered_by``, ``cancelled_by``, ...) is refused as an extra field (422). The clinical records
they carry, and their checks, are the domain's (``domain.visits``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from katflow_shared.bodies import Body
from katflow_shared.contracts.common import CancellationReason

from ..domain.visits import Discharge, Dose, DosingCheckIn


class CheckInIn(Body):
    dosing: DosingCheckIn | None = Field(None, description="Required for dosing appointments.")


class AdministrationIn(Dose):
    pass


class SessionIn(Discharge):
    """Discharge: closes monitoring and records the session (no therapy notes: codes and numbers)."""


class CancelIn(Body):
    reason: Literal[CancellationReason.PATIENT_REQUEST, CancellationReason.CLINIC_REQUEST]


class RescheduleIn(Body):
    starts_at: datetime = Field(description="New start (ISO 8601 with offset).")


class NoActionBody(Body):
    """An action with nothing to say but who does it (the caller): no fields; the body may be left out."""


class BookIn(Body):
    starts_at: datetime | None = Field(None, description="Wanted start; default the first free slot.")
