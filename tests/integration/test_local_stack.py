"""The local stack's tools (`make up`): the operator's KATFLOW_* settings reach the services, and the
SMTP sink keeps every message across restarts."""

from __future__ import annotations

import smtplib
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from katflow_tools import cli
from katflow_tools.smtp_sink import SmtpSink, read_folder
from katflow_tools.stack import ServiceProcess
from tests.support.stack import Stack, consultation_request


async def test_the_operators_katflow_settings_reach_the_services(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KATFLOW_PUBLIC_RATE_LIMIT_PER_MINUTE", "2")
    monkeypatch.setenv("KATFLOW_HTTP_PORT", "1")  # the launcher's own addresses and ports still win
    monkeypatch.setenv("KATFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    cfg = replace(stack.cfg, extra_env=cli._stack_config().extra_env)  # the test stack's own places
    stack.services["intake"] = ServiceProcess(cfg, "intake").start()
    stack.services["intake"].wait_ready()  # on its port, with its broker
    async with httpx.AsyncClient(base_url=cfg.url("intake"), timeout=10) as http:
        answers = [
            await http.post("/v1/consultation-requests", json=consultation_request(n)) for n in range(3)
        ]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert int(answers[2].headers["Retry-After"]) > 0


def test_a_second_sink_start_keeps_the_first_ones_messages(tmp_path: Path) -> None:
    for run in ("first", "second"):  # as `make down` / `make up` do
        sink = SmtpSink(folder=tmp_path).start()
        try:
            with smtplib.SMTP("127.0.0.1", sink.port) as smtp:
                for n in range(2):
                    msg = EmailMessage()
                    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.org", f"{run} {n}"
                    msg.set_content("hello")
                    smtp.send_message(msg)
        finally:
            sink.stop()
    kept = [str(m["Subject"]) for m in read_folder(tmp_path)]
    assert kept == ["first 0", "first 1", "second 0", "second 1"]
    assert not list(tmp_path.glob("*.tmp"))
