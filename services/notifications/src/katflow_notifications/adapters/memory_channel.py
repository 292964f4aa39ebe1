"""An in-memory channel: the fake for unit tests (held to the same contract as the real adapters)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..ports import ChannelPermanent, ChannelTransient, Outbound, Receipt


@dataclass
class MemoryChannel:
    """Records what it accepts; ``script`` lists outcomes to play first: 'ok', 'transient', 'permanent'."""

    script: deque[str] = field(default_factory=deque)
    accepted: list[Outbound] = field(default_factory=list)
    attempts: int = 0

    async def send(self, outbound: Outbound) -> Receipt:
        self.attempts += 1
        outcome = self.script.popleft() if self.script else "ok"
        if outcome == "transient":
            raise ChannelTransient("memory_transient", retry_after=None)
        if outcome == "permanent":
            raise ChannelPermanent("memory_permanent")
        if any(o.delivery_id == outbound.delivery_id for o in self.accepted):
            return Receipt(f"mem:{outbound.delivery_id}")  # idempotent, like a provider with keys
        self.accepted.append(outbound)
        return Receipt(f"mem:{outbound.delivery_id}")
