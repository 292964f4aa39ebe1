"""Benchmark profiles: how much load, for how long."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Profile:
    name: str
    raw_records: int  # baseline 1: records produced and consumed
    loop_records: int  # baseline 2: records moved consume → transaction → produce
    courses: int  # courses driven to their first discharge (timer lateness)
    fixed_rate: float  # offered requests/s in the fixed-rate phase
    fixed_seconds: float
    in_flight: int  # saturation: requests kept open end to end (closed loop)
    saturation_seconds: float
    warmup_seconds: float  # excluded from saturation throughput
    drain_seconds: float  # bound on waiting for the last emails of a phase
    final_drain_seconds: float  # bound on waiting for every email before the final count
    max_backlog_seconds: float = 2.0  # fixed rate: stop sending when this much offered load is open
    idle_seconds: float = 10.0  # the stack with nothing to do: what a quiet clinic's deployment costs
    scale_out: bool = True

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


PROFILES = {
    # `make bench`: under 5 minutes end to end on a 2-core machine, stack start and teardown included.
    "short": Profile(
        name="short",
        raw_records=20_000,
        loop_records=10_000,
        courses=6,
        fixed_rate=50,
        fixed_seconds=25,
        in_flight=60,
        saturation_seconds=25,
        warmup_seconds=5,
        drain_seconds=20,
        final_drain_seconds=40,
    ),
    # Documented in docs/benchmarks.md: ~15 minutes; steadier numbers, deeper percentiles.
    "long": Profile(
        name="long",
        raw_records=200_000,
        loop_records=20_000,
        courses=30,
        fixed_rate=50,
        fixed_seconds=180,
        in_flight=100,
        saturation_seconds=180,
        warmup_seconds=15,
        drain_seconds=120,
        final_drain_seconds=300,
        idle_seconds=30,
    ),
    # A smoke run of every part (about 2 minutes), for checking the harness itself.
    "smoke": Profile(
        name="smoke",
        raw_records=2_000,
        loop_records=500,
        courses=2,
        fixed_rate=10,
        fixed_seconds=5,
        in_flight=10,
        saturation_seconds=8,
        warmup_seconds=2,
        drain_seconds=30,
        final_drain_seconds=60,
        idle_seconds=3,
    ),
}
