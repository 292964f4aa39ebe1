"""docker-compose.yml for real: images built from the real Dockerfile, `docker compose up --wait`,
a consultation request acknowledged by mail, the acknowledgement's link opening on the patient's
page deployed apart (the portal service), a killed service container restarted by its restart
policy and catching up, `docker compose down -v`.

The engine, compose v2 and the base and stand-in images come from deploy/local/docker.sh (idempotent:
seconds once built). Images that no registry gives here (PostgreSQL, Kafka, Mailpit) are replaced
by deploy/compose/offline.yml; tests/containers/compose.test.yml moves every published port to a
free one on 127.0.0.1. Container traffic stays on this machine.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from katflow_tools import identity
from tests.support.infra import REPO
from tests.support.stack import consultation_request

DOCKER_SH = REPO / "deploy" / "local" / "docker.sh"
COMPOSE_FILES = ("docker-compose.yml", "deploy/compose/offline.yml", "tests/containers/compose.test.yml")
SERVICES = {"intake": 8001, "scheduling": 8002, "notifications": 8003, "console": 8004}
PORTAL_PORT = 8005  # the patient's page alone: the notifications image, another command
ACK = "We received your request"
DATE_OF_BIRTH = "1980-02-03"  # consultation_request()'s patient

pytestmark = [
    pytest.mark.timeout(1800),  # a first run on a new machine builds everything
    pytest.mark.skipif(
        os.environ.get("KATFLOW_TEST_CONTAINERS") != "1",
        reason="set KATFLOW_TEST_CONTAINERS=1 (make test does) to build the images and run compose",
    ),
]

T = TypeVar("T")


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(
        cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"{' '.join(cmd)} exited {result.returncode}:\n{output}"
    return result.stdout


def _wait(fn: Callable[[], T | None], within: float, what: str) -> T:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"{what}: not within {within:.0f} s")


@dataclass
class Compose:
    env: dict[str, str]
    docker: str
    project: str

    def __call__(self, *args: str, timeout: float = 300) -> str:
        files = [a for f in COMPOSE_FILES for a in ("-f", f)]
        return _run([self.docker, "compose", "-p", self.project, *files, *args], self.env, timeout)

    def docker_cmd(self, *args: str) -> str:
        return _run([self.docker, *args], self.env, 60)

    def url(self, service: str, port: int) -> str:
        return "http://" + self(("port"), service, str(port)).strip()

    def container(self, service: str) -> dict[str, Any]:
        (cid,) = self("ps", "-a", "-q", service).split()
        inspected: list[dict[str, Any]] = json.loads(self.docker_cmd("inspect", cid))
        return inspected[0]


PROJECT_PREFIX = "katflow-ct-"
ABANDONED_AFTER = 3 * 3600  # seconds: no run of this test lives that long; others' may be running


def _remove_abandoned_stacks(c: Compose) -> None:
    """Stacks of runs that were killed before their `down -v` (their containers restart with the
    engine): removed once they are hours old, so that concurrent runs are left alone."""
    labels = c.docker_cmd("ps", "-a", "--format", '{{.Label "com.docker.compose.project"}}').split()
    for project in sorted({p for p in labels if p.startswith(PROJECT_PREFIX)}):
        started = project.removeprefix(PROJECT_PREFIX).split("-")[0]
        if started.isdigit() and time.time() - int(started) > ABANDONED_AFTER:
            _run([c.docker, "compose", "-p", project, "down", "-v", "--timeout", "5"], c.env, 180)


@pytest.fixture(scope="module")
def compose() -> Iterator[Compose]:
    env = dict(os.environ)
    _run(["bash", str(DOCKER_SH), "up"], env, 1500)
    for line in _run(["bash", str(DOCKER_SH), "env"], env, 60).splitlines():
        for assignment in line.removeprefix("export ").split():
            key, _, value = assignment.partition("=")
            env[key] = value
    _run(["bash", str(DOCKER_SH), "images"], env, 1500)  # katflow/*:dev from the real Dockerfiles
    c = Compose(env, env["KATFLOW_DOCKER"], f"{PROJECT_PREFIX}{int(time.time())}-{uuid.uuid4().hex[:6]}")
    _remove_abandoned_stacks(c)
    try:
        c("up", "--wait", "--no-build", "--quiet-pull", timeout=600)
        yield c
    finally:
        print(c("logs", "--no-color", "--tail", "60", timeout=60))  # shown when a test failed
        c("down", "-v", "--remove-orphans", "--timeout", "20", timeout=180)
        leftovers = c.docker_cmd("ps", "-aq", "--filter", f"label=com.docker.compose.project={c.project}")
        assert not leftovers.strip(), "docker compose down -v left containers behind"


def _submit(intake: str, n: int, tag: str) -> str:
    """POST a consultation request; return its patient's email."""
    body = consultation_request(n)
    email = f"patient{n}.{tag}@example.org"
    body["patient"]["email"] = email
    resp = httpx.post(
        f"{intake}/v1/consultation-requests", json=body, headers={"Idempotency-Key": f"{tag}-{n}"}, timeout=30
    )
    assert resp.status_code == 202, resp.text
    return email


def _acknowledged(mailpit: str) -> list[str]:
    """The recipients of every acknowledgement in the mail server, one entry per message."""
    resp = httpx.get(f"{mailpit}/api/v1/messages", params={"limit": 1000}, timeout=10)
    resp.raise_for_status()
    return [to["Address"] for m in resp.json()["messages"] if m["Subject"] == ACK for to in m["To"]]


def test_the_stack_is_up_from_the_images_and_answers(compose: Compose) -> None:
    for service, port in SERVICES.items():
        container = compose.container(service)
        assert container["Config"]["Image"] == f"katflow/{service}:dev"
        assert container["State"]["Health"]["Status"] == "healthy"
        assert container["HostConfig"]["ReadonlyRootfs"] is True
        assert container["Config"]["User"] == "10001:10001"
        ready = httpx.get(f"{compose.url(service, port)}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text  # database and Kafka reached over the network
    topic_init = compose.container("topic-init")["State"]  # the one-shot created the topics
    assert topic_init["Status"] == "exited" and topic_init["ExitCode"] == 0
    # the console sends a browser to log in at Keycloak's published address, coming back to itself
    console = compose.url("console", 8004)
    to_login = httpx.get(f"{console}/", timeout=10)  # no session: the console's login page
    assert to_login.status_code == 303, to_login.text
    login = httpx.get(f"{console}{to_login.headers['location']}", timeout=10)
    assert login.status_code in (302, 303, 307), login.text
    target = httpx.URL(login.headers["location"])
    assert str(target).startswith("http://127.0.0.1:18080/realms/clinic/protocol/openid-connect/auth?")
    assert target.params["client_id"] == "katflow-console"
    assert target.params["redirect_uri"] == "http://127.0.0.1:8004/auth/callback"


def test_staff_call_the_services_with_their_own_keycloak_tokens(compose: Compose) -> None:
    """Keycloak in compose (issue 27): a demo user's token from the published port is admitted by
    the containers (which check it against the realm's keys over the compose network), its subject is
    the audited actor, a role it lacks is 403 and an altered token 401."""
    issuer = f"{compose.url('keycloak', 8080)}/realms/clinic"
    users = {u.username: u for u in identity.demo_users(identity.load_realm())}
    token = {
        name: identity.password_grant(issuer, name, users[name].password) for name in ("coord-1", "admin-1")
    }
    scheduling = compose.url("scheduling", 8002)

    def get(path: str, bearer: str, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {bearer}"}
        return httpx.get(f"{scheduling}{path}", headers=headers, params=params, timeout=30)

    assert get("/v1/waitlist", token["coord-1"]).status_code == 200
    assert get("/v1/audit", token["coord-1"]).status_code == 403  # an admin's
    head, payload, signature = token["coord-1"].split(".")
    altered = f"{head}.{payload}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    assert get("/v1/waitlist", altered).status_code == 401
    audited = get("/v1/audit", token["admin-1"], actor="coord-1").json()
    assert {(r["action"], r["auth_method"], r["status"]) for r in audited} >= {
        ("GET /v1/waitlist", "jwt", 200),
        ("GET /v1/audit", "jwt", 403),
    }


def test_a_request_is_acknowledged_and_a_killed_service_catches_up(compose: Compose) -> None:
    intake, mailpit = compose.url("intake", 8001), compose.url("mailpit", 8025)
    tag = uuid.uuid4().hex[:8]
    first = _submit(intake, 0, tag)
    _wait(lambda: first in _acknowledged(mailpit), 180, "the acknowledgement in the mail server")

    # notifications dies as a crash would (SIGKILL from outside, not `docker stop`) ...
    before = compose.container("notifications")
    os.kill(before["State"]["Pid"], signal.SIGKILL)
    _wait(
        lambda: (
            not compose.container("notifications")["State"]["Running"]
            or compose.container("notifications")["RestartCount"] > before["RestartCount"]
        ),
        30,
        "the kill",
    )
    # ... requests keep coming in meanwhile ...
    later = [_submit(intake, n, tag) for n in (1, 2, 3)]

    # ... and its restart policy brings it back; it reads what it missed from Kafka.
    def restarted() -> bool:
        now = compose.container("notifications")
        return bool(
            now["RestartCount"] > before["RestartCount"]
            and now["State"]["Running"]
            and now["State"]["Health"]["Status"] == "healthy"
        )

    _wait(restarted, 240, "notifications restarted by its restart policy and healthy")
    wanted = [first, *later]
    _wait(lambda: set(wanted) <= set(_acknowledged(mailpit)), 180, "the acknowledgements after the restart")
    time.sleep(3)  # a duplicate would come right behind
    acknowledged = _acknowledged(mailpit)
    assert sorted(a for a in acknowledged if a in wanted) == sorted(wanted), "each exactly once"


def _message_text(mailpit: str, recipient: str, subject: str) -> str | None:
    """The text of the message with this subject to this recipient, once the mail server has it."""
    resp = httpx.get(f"{mailpit}/api/v1/messages", params={"limit": 1000}, timeout=10)
    resp.raise_for_status()
    for m in resp.json()["messages"]:
        if m["Subject"] == subject and recipient in [to["Address"] for to in m["To"]]:
            message = httpx.get(f"{mailpit}/api/v1/message/{m['ID']}", timeout=10)
            message.raise_for_status()
            return str(message.json()["Text"])
    return None


def test_the_patient_page_runs_apart_and_message_links_open_there(compose: Compose) -> None:
    """The portal service: the notifications image running ``katflow_notifications.portal`` on its
    own port. It serves the page and nothing of notifications' API; the link in a patient's email
    (sent by the notifications container) names the portal's address and opens there, second
    factor first."""
    container = compose.container("portal")
    assert container["Config"]["Image"] == "katflow/notifications:dev"
    assert container["Config"]["Cmd"] == ["python", "-m", "katflow_notifications.portal"]
    assert container["State"]["Health"]["Status"] == "healthy"
    assert container["HostConfig"]["ReadonlyRootfs"] is True and container["Config"]["User"] == "10001:10001"
    portal = compose.url("portal", PORTAL_PORT)
    assert httpx.get(f"{portal}/readyz", timeout=10).status_code == 200
    landing = httpx.get(f"{portal}/portal/", timeout=10)
    assert landing.status_code == 200 and 'id="landing"' in landing.text
    assert httpx.get(f"{portal}/v1/staff/clin-1/feed", timeout=10).status_code == 404
    assert httpx.post(f"{portal}/v1/sms/inbound", content=b"{}", timeout=10).status_code == 404

    # notifications links to the portal service's address as docker-compose.yml publishes it
    notifications_env = dict(e.split("=", 1) for e in compose.container("notifications")["Config"]["Env"])
    portal_url = notifications_env["KATFLOW_PORTAL_URL"]
    published = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["portal"]["ports"]
    host, _, port = published[0].rpartition(":")[0].partition(":")
    assert portal_url == f"http://{host}:{port}/portal" and port == str(PORTAL_PORT)

    intake, mailpit = compose.url("intake", 8001), compose.url("mailpit", 8025)
    email = _submit(intake, 7, uuid.uuid4().hex[:8])
    text = _wait(lambda: _message_text(mailpit, email, ACK), 180, "the acknowledgement in the mail server")
    [link] = re.findall(r"http://\S+/portal/p/[A-Za-z0-9_-]+", text)
    assert link.startswith(f"{portal_url}/p/"), link
    path = httpx.URL(link).path  # the test publishes the portal on a free port: same path, that port
    with httpx.Client(base_url=portal, timeout=10) as browser:
        factor = browser.get(path)
        assert factor.status_code == 200 and "Confirm it's you" in html.unescape(factor.text)
        assert "Given7" not in factor.text, "nothing personal before the second factor"
        wrong = browser.post(f"{path}/confirm", data={"date_of_birth": "1999-09-09"})
        assert wrong.status_code == 401 and "Given7" not in wrong.text
        confirmed = browser.post(f"{path}/confirm", data={"date_of_birth": DATE_OF_BIRTH})
        assert confirmed.status_code == 303 and confirmed.headers["location"] == path
        page = browser.get(path)
        assert page.status_code == 200 and "Hello Given7" in page.text
