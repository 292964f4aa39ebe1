"""Sampling the service processes with py-spy while they are under load (``--py-spy``).

py-spy attaches from outside (no code in the services changes) and writes collapsed stacks; this
module turns them into the functions that took the most CPU, by own time and including callees.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Hot:
    function: str
    own: float  # share of the process's CPU samples spent in the function itself
    total: float  # share of samples with the function anywhere on the stack


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def record(pid: int, seconds: float, out: Path, rate: int = 67) -> subprocess.Popen[bytes] | None:
    """Sample ``pid`` into ``out``; py-spy's complaints go to ``errors(out)``."""
    exe = py_spy()
    if exe is None:
        return None
    with errors(out).open("wb") as err:
        return subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def errors(out: Path) -> Path:
    return out.with_suffix(".err")


def failure(out: Path) -> str:
    """Why py-spy wrote no profile to ``out``: the first line of what it said (e.g. that it could
    not find the interpreter's version in the process)."""
    said = errors(out).read_text(errors="replace") if errors(out).exists() else ""
    first = next((line.strip() for line in said.splitlines() if line.strip()), "")
    return first or "py-spy wrote no samples"


def top(collapsed: str, limit: int = 12, skip_own: tuple[str, ...] = ()) -> tuple[int, list[Hot], list[Hot]]:
    """(samples, hottest by own time, hottest including callees) from py-spy's raw output."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        # py-spy's first frame is "process ..." / thread name; keep code frames only
        frames = [f for f in frames if "(" in f]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            total[frame] += count
    if samples == 0:
        return 0, [], []

    def hot(counter: Counter[str]) -> list[Hot]:
        return [
            Hot(name, own[name] / samples, total[name] / samples)
            for name, _ in counter.most_common()
            if not name.startswith(skip_own)
        ][:limit]

    return samples, hot(own), hot(total)


def _short(frame: str) -> str:
    """'send (aiokafka/producer/producer.py)' from a frame with a full path and line number."""
    name, _, where = frame.partition(" (")
    if not where:
        return frame
    path = where.rstrip(")")
    head, _, line = path.rpartition(":")
    if line.isdigit():
        path = head  # aggregate per function, not per line
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"
