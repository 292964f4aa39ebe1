"""KATFLOW_STACK_SMS=fake-twilio: ``katflow stack up`` (``make up``) starts the fake Twilio and points
notifications' SMS at it; ``stack down`` stops it with the rest."""

from __future__ import annotations

import base64
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from katflow_tools import cli
from katflow_tools.stack import SERVICES


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_stack_settings_point_sms_at_the_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cli.STACK_SMS, raising=False)
    assert "KATFLOW_SMS_PROVIDER" not in cli._stack_config().extra_env
    monkeypatch.setenv(cli.STACK_SMS, "fake-twilio")
    env = cli._stack_config().extra_env
    assert env["KATFLOW_SMS_PROVIDER"] == "twilio"
    assert env["KATFLOW_TWILIO_API_BASE_URL"] == f"http://127.0.0.1:{cli.FAKE_TWILIO_PORT}"
    monkeypatch.setenv("KATFLOW_TWILIO_API_BASE_URL", "http://elsewhere:1")  # the operator's wins
    assert cli._stack_config().extra_env["KATFLOW_TWILIO_API_BASE_URL"] == "http://elsewhere:1"


def test_stack_up_starts_the_fake_twilio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    for name in ("smtp-sink", *SERVICES):  # "running" (this process): stack up leaves them alone
        pids.joinpath(f"{name}.pid").write_text(str(os.getpid()))

    async def nothing(*_args: Any) -> None:
        return None

    port = _free_port()
    monkeypatch.setenv(cli.STACK_SMS, "fake-twilio")
    monkeypatch.setattr(cli, "RUN_DIR", tmp_path)
    monkeypatch.setattr(cli, "FAKE_TWILIO_PORT", port)
    monkeypatch.setattr(cli, "create_databases", nothing)
    monkeypatch.setattr(cli, "ensure_topics", nothing)
    assert cli.cmd_stack_up(cli.argparse.Namespace()) == 0
    fake = int(pids.joinpath("fake-twilio.pid").read_text())
    try:
        sid, token = cli.FAKE_TWILIO_ACCOUNT
        auth = "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.post(
                    f"http://127.0.0.1:{port}/2010-04-01/Accounts/{sid}/Messages.json",
                    data={"To": "+15557654321", "From": "+15550100000", "Body": "hello"},
                    headers={"Authorization": auth},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the fake Twilio did not start"
                time.sleep(0.2)
        assert answer.status_code == 201 and answer.json()["sid"].startswith("SM")
    finally:
        os.kill(fake, signal.SIGTERM)
    log = (tmp_path / "logs" / "fake-twilio.log").read_text()
    assert "to +15557654321 from +15550100000: hello" in log
