"""docs/integrators.md works: its Python example and its kcat command read real katflow records.

kcat is required (CI provisioning installs the Debian package ``kcat``); the test fails without it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from katflow_shared.contracts import ConsultationRequested, EligibilityDecided
from katflow_shared.contracts.common import EligibilityOutcome, Route
from katflow_shared.contracts.topics import INTAKE, WORKFLOW_TOPICS
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.kafka import ensure_topics, make_producer
from katflow_shared.settings import ServiceSettings
from tests.support.infra import REPO, Infra
from tests.support.patient_events import consultation_requested

DOCS = REPO / "docs"
SCRIPT = DOCS / "examples" / "consume_consultations.py"
GUIDE = DOCS / "integrators.md"

pytestmark = pytest.mark.timeout(240)


@dataclass(frozen=True)
class Published:
    bootstrap: str
    topic: str
    first: Envelope
    decision: Envelope
    second: Envelope

    @staticmethod
    def consultation(envelope: Envelope) -> ConsultationRequested:
        assert isinstance(envelope.event, ConsultationRequested)
        return envelope.event


def _consultation(course_id: uuid.UUID) -> ConsultationRequested:
    return consultation_requested(course_id, route=Route.INTRANASAL)


@pytest.fixture(scope="module")
async def published(infra: Infra) -> Published:
    """On a fresh intake topic: a request, its redelivery, a decision, and a second request."""
    settings = ServiceSettings(
        kafka_bootstrap=infra.kafka_bootstrap,
        topic_prefix=f"quickstart{uuid.uuid4().hex[:10]}.",
        service_name="quickstart-test",
    )
    await ensure_topics(settings)
    course = uuid.uuid4()
    first = Envelope(_consultation(course), source="/katflow/intake", correlation_id="req-quickstart")
    decision = Envelope(
        EligibilityDecided(
            course_id=course,
            patient_id=Published.consultation(first).patient_id,
            outcome=EligibilityOutcome.ELIGIBLE,
            route=Route.INTRANASAL,
            decided_at=datetime.now(UTC),
        ),
        source="/katflow/intake",
    )
    second = Envelope(_consultation(course), source="/katflow/intake")
    topic = settings.topic(INTAKE)
    producer = make_producer(settings)
    await producer.start()
    try:
        for envelope in (first, first, decision, second):  # `first` twice: an at-least-once redelivery
            await producer.send_and_wait(
                topic, value=envelope.body(), key=envelope.event.key().encode(), headers=envelope.headers()
            )
    finally:
        await producer.stop()
    return Published(infra.kafka_bootstrap, topic, first, decision, second)


def test_python_example_prints_each_consultation_once(published: Published) -> None:
    env = {
        **os.environ,
        "GROUP_ID": f"quickstart-{uuid.uuid4().hex[:8]}",
        "MAX_EVENTS": "2",
        "TIMEOUT_SECONDS": "90",
    }
    done = subprocess.run(
        [sys.executable, str(SCRIPT), published.bootstrap, published.topic],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    for line, envelope in zip(lines, (published.first, published.second), strict=True):
        event = Published.consultation(envelope)
        assert line.startswith(f"io.katflow.ConsultationRequested.v1 {envelope.id} "), line
        assert f'"consultation_request_id": "{event.consultation_request_id}"' in line
        assert f'"course_id": "{event.course_id}"' in line
    assert published.decision.id not in done.stdout


def _documented_kcat_command() -> list[str]:
    match = re.search(r"^kcat -b <broker> .*$", GUIDE.read_text(), re.MULTILINE)
    assert match, "integrators.md has no kcat command"
    return shlex.split(match.group(0))


def test_documented_kcat_command_shows_headers_and_body(published: Published) -> None:
    kcat = shutil.which("kcat")
    assert kcat, "kcat is not installed: provisioning must 'apt-get install -y kcat'"
    argv = [
        published.bootstrap if arg == "<broker>" else published.topic if arg == INTAKE else arg
        for arg in _documented_kcat_command()
    ]
    done = subprocess.run([kcat, *argv[1:], "-e"], capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 4, done.stdout
    first = lines[0]
    event = Published.consultation(published.first)
    assert f"ce_id={published.first.id}" in first
    assert "ce_type=io.katflow.ConsultationRequested.v1" in first
    assert f"ce_subject={event.course_id}" in first
    assert "ce_correlationid=req-quickstart" in first
    assert first.endswith(published.first.body().decode())
    assert f"ce_type={published.decision.type}" in lines[2]


def test_guide_shows_the_example_script_as_it_is() -> None:
    """Every line of the guide's Python listing is a line of the script the test above runs."""
    listing = re.search(r"```python\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    assert listing, "integrators.md has no Python listing"
    script = {line.strip() for line in SCRIPT.read_text().splitlines()}
    missing = [line for line in listing.group(1).splitlines() if line.strip() not in script]
    assert missing == []


def test_guide_names_every_workflow_topic() -> None:
    guide = GUIDE.read_text()
    assert [spec.name for spec in WORKFLOW_TOPICS if f"| `{spec.name}` |" not in guide] == []
