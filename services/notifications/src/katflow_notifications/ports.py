"""The one port every channel adapter implements: hand a rendered message to a provider.

``send`` returns a receipt when the provider accepted the message, raises ``ChannelTransient`` when
trying again later may work (timeouts, 429, 5xx) and ``ChannelPermanent`` when it cannot (a
rejected number, a 4xx). Retries, fallbacks and state live in the dispatcher, not in adapters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from katflow_shared.db import Part
from katflow_shared.messaging.errors import PermanentError, TransientError

from .domain.templates import Rendered


@dataclass(frozen=True)
class Outbound:
    delivery_id: UUID
    to: str  # email address, E.164 number, staff id, webhook name or integrator endpoint id
    message: Rendered
    urgent: bool = False
    notification: str = ""
    course_id: UUID | None = None
    unsubscribe_url: str | None = None  # an optional email's RFC 8058 one-click unsubscribe
    patient_id: UUID | None = None  # whose message it is (a staff alert's patient: the feed's audit)


@dataclass(frozen=True)
class Receipt:
    provider_id: str
    delivered: bool = False  # the channel itself is the destination (staff feed): delivered at once
    # A channel that is the database itself (staff feed) hands over nothing: what it writes goes in
    # the statement that settles the delivery (``writes``), so the item exists exactly when the
    # delivery is recorded as delivered.
    writes: Sequence[Part] = ()


class ChannelTransient(TransientError):
    def __init__(self, code: str, retry_after: float | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


class ChannelPermanent(PermanentError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Channel(Protocol):
    async def send(self, outbound: Outbound) -> Receipt: ...
