"""CPU time per component from /proc, so a phase can say what each request cost and where.

On a shared, busy machine wall-clock numbers move with the neighbours; CPU seconds per request are
steadier and answer "how many requests/s can these cores carry" directly. PostgreSQL backends are
counted only when connected to this run's databases (their process title names the database);
PostgreSQL's background writers and the Kafka broker are shared with whatever else uses them.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of one process (its threads included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def snapshot(services: dict[str, list[int]], sink_pid: int | None, db_prefix: str) -> dict[str, float]:
    """CPU seconds so far: each service (replicas summed), the SMTP sink (if any), this load
    generator, the Kafka broker, and PostgreSQL backends serving this run's databases."""
    out: dict[str, float] = {}
    for name, pids in services.items():
        out[name] = sum(cpu_seconds(p) or 0.0 for p in pids)
    if sink_pid is not None:
        out["smtp sink"] = cpu_seconds(sink_pid) or 0.0
    out["load generator"] = cpu_seconds(os.getpid()) or 0.0
    kafka = postgres = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        cmd = _cmdline(pid)
        if "kafka.Kafka" in cmd:
            kafka += cpu_seconds(pid) or 0.0
        elif cmd.startswith("postgres: ") and f" {db_prefix}" in cmd:
            postgres += cpu_seconds(pid) or 0.0
    out["kafka broker"] = kafka
    out["postgresql (this run's backends)"] = postgres
    return out


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds used between two snapshots (a process that appeared counts from zero)."""
    return {k: max(0.0, after.get(k, 0.0) - before.get(k, 0.0)) for k in after}


def speed_probe(rounds: int = 5, steps: int = 200_000) -> float:
    """Milliseconds a fixed pure-Python loop takes here now, the median of ``rounds`` (lower is
    faster): the VM's speed at a phase's edge, taken while nothing of the run is busy. This VM runs
    the same code 30–50 % slower in some minutes than in others, and a ratio between numbers
    measured minutes apart mixes the two (the baselines before and after the phases, saturation in
    between); the probe says whether they ran at the same speed."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        total = 0
        for i in range(steps):
            total += i * i % 7
        times.append(time.perf_counter() - t)
    return round(1000 * statistics.median(times), 1)
