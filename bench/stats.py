"""Pure numbers: percentiles, rates and ratios (no I/O; unit-tested in tests/unit/test_bench_stats.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks (numpy's
    default, "linear"); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """Latency distribution in seconds."""

    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    mean: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(
            count=len(values),
            p50=percentile(values, 50),
            p95=percentile(values, 95),
            p99=percentile(values, 99),
            max=max(values) if values else None,
            mean=sum(values) / len(values) if values else None,
        )


def p99_by_window(points: Sequence[tuple[float, float]], width: float) -> list[float | None]:
    """The p99 of the values whose time falls in each ``width``-second window, from time 0 to the
    last point's window; None for a window with no point. ``points`` are (time, value) pairs."""
    if width <= 0:
        raise ValueError("window width must be positive")
    windows: list[list[float]] = []
    for at, value in points:
        if at < 0:
            continue
        k = int(at // width)
        while len(windows) <= k:
            windows.append([])
        windows[k].append(value)
    return [percentile(w, 99) for w in windows]


def rate(count: int, seconds: float) -> float:
    """Items per second; 0 when no time passed."""
    return count / seconds if seconds > 0 else 0.0


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is not positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def loop_runs(report: dict[str, Any], field: str) -> tuple[float | None, float | None]:
    """A figure of the consume → transaction → produce baseline (records_per_second,
    cpu_ms_per_record) in its run before the phases and in its run after them (None where it did
    not run: skipped, or a run from before the second was measured)."""
    runs = (report.get("baselines", {}), report.get("baselines_after", {}))
    values = [b.get("consume_txn_produce", {}).get(field) for b in runs]
    return (float(values[0]) if values[0] else None, float(values[1]) if values[1] else None)


def loop_baseline(report: dict[str, Any], field: str) -> float | None:
    """``loop_runs``' mean: the two runs bracket the phases, and the VM's speed drifts over minutes."""
    values = [v for v in loop_runs(report, field) if v is not None]
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Exactness:
    """Per-key delivery counts against what was expected: missing keys are lost, extra ones duplicated."""

    expected: int
    delivered: int
    lost: int
    duplicated: int

    @classmethod
    def of(cls, expected_keys: Sequence[str], seen: dict[str, int]) -> Exactness:
        return cls(
            expected=len(expected_keys),
            delivered=sum(1 for k in expected_keys if seen.get(k, 0) > 0),
            lost=sum(1 for k in expected_keys if seen.get(k, 0) == 0),
            duplicated=sum(seen.get(k, 0) - 1 for k in expected_keys if seen.get(k, 0) > 1),
        )

    @property
    def exact(self) -> bool:
        return self.lost == 0 and self.duplicated == 0


def fmt_seconds(value: float | None) -> str:
    """A latency for the table: ms below 10 s, s above; '-' when missing."""
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}/s"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


HARNESS = ("smtp sink", "load generator")  # stand-ins for the outside world, not the pipeline


def cpu_ms_per_event(phase: dict[str, Any]) -> float | None:
    """The stack's CPU per event published in the window: the services, the broker and the
    database, not the harness (the SMTP sink and the load generator)."""
    events = (phase.get("events_per_second") or 0) * (phase.get("window_seconds") or 0)
    used = phase.get("cpu_seconds_in_window") or {}
    cpu_seconds = sum(v for k, v in used.items() if k not in HARNESS)
    return 1000 * cpu_seconds / events if events and cpu_seconds else None
