"""Time as a port, so tests can run a whole course without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock tests move by hand (unit tests)."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class FileOffsetClock:
    """Wall clock plus an offset in seconds read from a file: lets e2e tests move service processes
    forward in time without sleeping. Only allowed outside prod (see ``clock_for``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        try:
            offset = float(self.path.read_text().strip() or 0)
        except FileNotFoundError:
            offset = 0.0
        return datetime.now(UTC) + timedelta(seconds=offset)


def clock_for(environment: str, offset_file: Path | None) -> Clock:
    if offset_file is None:
        return SystemClock()
    if environment == "prod":
        raise ValueError("KATFLOW_CLOCK_OFFSET_FILE is for tests; it is refused in prod")
    return FileOffsetClock(offset_file)
