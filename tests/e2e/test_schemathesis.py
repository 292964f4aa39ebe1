"""Schemathesis against each running service's own OpenAPI, with credentials holding every role:
generated valid and invalid requests must never get a 5xx, and every documented response must
match its schema."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from katflow_tools.stack import BACKEND
from tests.conftest import RUN_ROOT
from tests.support.infra import Infra
from tests.support.stack import Stack, make_stack

CHECKS = "not_a_server_error,response_schema_conformance"
MAX_EXAMPLES = 5
SEED = "20261127"  # reproducible runs; change it to explore further


def schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which(
        "schemathesis"
    )
    assert found, "schemathesis is a dev dependency: run `uv sync`"
    return found


@pytest.fixture
async def stack(infra: Infra) -> AsyncIterator[Stack]:
    """Live staff-feed streams end after 2 s, so a generated request for one does not hang."""
    s = await make_stack(infra, RUN_ROOT, KATFLOW_FEED_STREAM_MAX_SECONDS="2")
    yield s
    s.stop()


async def run_schemathesis(stack: Stack, service: str) -> tuple[int, str]:
    report = stack.cfg.run_dir / f"schemathesis-{service}"
    report.mkdir(parents=True, exist_ok=True)
    proc = await asyncio.create_subprocess_exec(
        schemathesis(),
        "--no-color",
        "run",
        f"{stack.url(service)}/openapi.json",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        SEED,
        # One worker: with several, schemathesis builds Hypothesis strategies in threads, and
        # CPython 3.11's ast.parse (Hypothesis describes filter lambdas with it) is not
        # thread-safe — "SystemError: AST constructor recursion depth mismatch" at random.
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--header",
        f"Authorization: {stack.auth_headers('all')['Authorization']}",
        "--suppress-health-check",
        "all",
        "--generation-database",
        "none",
        "--report",
        "junit",
        "--report-dir",
        str(report),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=report,  # its cache (.schemathesis/) stays in the run directory
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=150)
    text = out.decode(errors="replace")
    (report / "output.txt").write_text(text)
    return proc.returncode or 0, text


@pytest.mark.timeout(240)
async def test_generated_requests_never_get_a_5xx_and_responses_match_the_schema(stack: Stack) -> None:
    stack.start()
    results = await asyncio.gather(*(run_schemathesis(stack, service) for service in BACKEND))
    failures = [
        f"--- {service} (exit {code})\n{out[-6000:]}"
        for service, (code, out) in zip(BACKEND, results, strict=True)
        if code != 0
    ]
    assert not failures, "\n".join(failures)
    for service, (_, out) in zip(BACKEND, results, strict=True):
        assert "No issues found" in out or "passed" in out, f"{service}: {out[-2000:]}"
        assert stack.services[service].alive(), stack.services[service].log_tail()
