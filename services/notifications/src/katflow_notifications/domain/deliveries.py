"""Deliveries as the planner queues them (``NewDelivery``) and as the dispatcher claims them
(``Delivery``): pure values; the deliveries table's adapters read and write them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class NewDelivery:
    event_id: UUID
    notification: str
    audience: str
    channel: str
    template_family: str
    template_id: str
    template_version: int
    locale: str
    recipient: str  # patient id, staff id, webhook name or integrator endpoint id
    facts: Mapping[str, str]
    now: datetime
    course_id: UUID | None = None
    patient_id: UUID | None = None
    staff_id: str | None = None
    appointment_id: UUID | None = None
    address: str | None = None
    urgent: bool = False
    automated: bool = False
    exempt: bool = False
    fallback_of: UUID | None = None

    @property
    def idempotency_key(self) -> str:
        """One message per (event, recipient, channel, template)."""
        return f"{self.event_id}:{self.recipient}:{self.channel}:{self.template_family}"


@dataclass(frozen=True)
class Delivery:
    """A claimed delivery with what the dispatcher needs about its recipient."""

    id: UUID
    event_id: UUID
    notification: str
    audience: str
    channel: str
    template_id: str
    template_version: int
    locale: str
    facts: dict[str, str]
    attempts: int
    course_id: UUID | None
    patient_id: UUID | None
    staff_id: str | None
    appointment_id: UUID | None
    address: str | None
    urgent: bool
    automated: bool
    exempt: bool
    created_at: datetime
    recipient: dict[str, Any] = field(default_factory=dict)  # patient row (+ sms opt-out), if any

    @property
    def shares_lane(self) -> bool:
        """Whether other deliveries can be in its lane (a patient's, or an address's; migration 004):
        a delivery without either is a lane of its own."""
        return self.patient_id is not None or self.address is not None
