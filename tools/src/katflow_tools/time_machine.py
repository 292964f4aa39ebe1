"""Moving service processes forward in time, for tests and the benchmark: the writing side of
``katflow_shared.clock.FileOffsetClock`` (``KATFLOW_CLOCK_OFFSET_FILE``, refused in prod)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path


@dataclass
class TimeMachine:
    """Moves the services' clocks forward (never back) by writing an offset file."""

    path: Path
    offset: float = 0.0

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("0")

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    def jump_to(self, target: datetime) -> None:
        wanted = (target - datetime.now(UTC)).total_seconds()
        if wanted > self.offset:
            self.offset = wanted
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(f"{self.offset:.6f}")
            tmp.replace(self.path)  # atomic: a service never reads a half-written number
