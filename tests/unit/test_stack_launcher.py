"""`katflow stack up` restarts a service that was killed but not yet reaped (a zombie passes
``kill -0``), and leaves running ones alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from katflow_tools import cli
from katflow_tools.stack import SERVICES


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Child processes of this test, which reaps none of them until its end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()


def sleeper(started: list[subprocess.Popen[bytes]]) -> int:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    started.append(proc)
    return proc.pid


def zombie(started: list[subprocess.Popen[bytes]]) -> int:
    """A killed child not reaped: ``kill -0`` still finds it."""
    pid = sleeper(started)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the killed child did not become a zombie"
        time.sleep(0.02)
    os.kill(pid, 0)  # what the launcher used to check: no error
    return pid


def test_a_zombie_does_not_count_as_running(tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]) -> None:
    alive, dead = tmp_path / "alive.pid", tmp_path / "dead.pid"
    alive.write_text(str(sleeper(sleepers)))
    dead.write_text(str(zombie(sleepers)))
    assert cli._running(alive)
    assert not cli._running(dead)
    assert not cli._running(tmp_path / "never-started.pid")


class FakeService:
    """Stands in for a service process: records which services ``stack up`` starts."""

    started: list[str] = []

    def __init__(self, _cfg: Any, name: str) -> None:
        self.name, self.pid = name, 4_000_000 + len(self.started)  # above any real pid_max

    def start(self) -> FakeService:
        self.started.append(self.name)
        return self

    def wait_ready(self) -> None:
        return None


def test_stack_up_restarts_a_killed_but_unreaped_service(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    for name in ("smtp-sink", *SERVICES):
        pids.joinpath(f"{name}.pid").write_text(str(sleeper(sleepers)))
    killed = zombie(sleepers)
    pids.joinpath("scheduling.pid").write_text(str(killed))

    async def nothing(*_args: Any) -> None:
        return None

    FakeService.started = []
    monkeypatch.setattr(cli, "RUN_DIR", tmp_path)
    monkeypatch.setattr(cli, "ServiceProcess", FakeService)
    monkeypatch.setattr(cli, "create_databases", nothing)
    monkeypatch.setattr(cli, "ensure_topics", nothing)
    assert cli.cmd_stack_up(cli.argparse.Namespace()) == 0
    assert FakeService.started == ["scheduling"]  # the others run: left alone
    assert int(pids.joinpath("scheduling.pid").read_text()) != killed
