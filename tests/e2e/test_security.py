"""Security against the running services: every endpoint's roles from its own OpenAPI (401 without
credentials, 403 with a wrong role), signed provider webhooks, the public form's rate limit, JWTs
verified against a JWKS served on loopback, and distinctive PHI markers pushed through a course and
searched for in every log file and on every topic but the restricted one."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from katflow_notifications.devtools.fake_provider import FakeProvider, signed
from katflow_shared.contracts import topics
from katflow_shared.contracts.common import Route
from katflow_shared.roles import Role
from katflow_shared.treatment_protocols import load_protocols
from katflow_tools.stack import BACKEND
from tests.conftest import RUN_ROOT
from tests.support.course import CourseDriver, course_stack
from tests.support.infra import Infra
from tests.support.stack import SUBJECTS, Stack, consultation_request, make_stack, wait_for

WEBHOOK_SECRET = "whsec_ZTJlLXNlY3VyaXR5LXdlYmhvb2stc2VjcmV0"
# Unauthenticated by design: health, the public web form (rate-limited), signed provider webhooks.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("POST", "/v1/consultation-requests"),
    ("POST", "/v1/sms/status"),
    ("POST", "/v1/sms/inbound"),
    ("POST", "/v1/sms/twilio/status"),
    ("POST", "/v1/sms/twilio/inbound"),
}
SIGNED = {
    ("POST", "/v1/sms/status"),
    ("POST", "/v1/sms/inbound"),
    ("POST", "/v1/sms/twilio/status"),
    ("POST", "/v1/sms/twilio/inbound"),
}


def concrete(path: str, operation: dict[str, Any]) -> str:
    """The path with each parameter filled by a value of its schema's type."""
    for param in operation.get("parameters", []):
        if param["in"] == "path":
            schema = param.get("schema", {})
            value = (
                str(uuid.uuid4())
                if schema.get("format") == "uuid"
                else "1"
                if schema.get("type") == "integer"
                else "someone"
            )
            path = path.replace("{" + param["name"] + "}", value)
    return path


async def test_every_endpoint_declares_its_roles_and_answers_401_and_403(stack: Stack) -> None:
    stack.start()
    checked = 0
    async with httpx.AsyncClient(timeout=10) as http:
        for service in BACKEND:
            base = stack.url(service)
            spec = (await http.get(f"{base}/openapi.json")).json()
            for path, operations in spec["paths"].items():
                for method, op in operations.items():
                    key = (method.upper(), path)
                    security = op.get("security")
                    if not security:
                        assert key in PUBLIC, f"{service} {key} admits anyone: declare its roles"
                        continue
                    [requirement] = security
                    admitted = set(requirement["bearer"])
                    assert admitted and admitted <= {r.value for r in Role}, (service, key, admitted)
                    url = base + concrete(path, op)

                    async def call(headers: dict[str, str], url: str = url, method: str = method) -> int:
                        body = {} if method in ("post", "put", "patch") else None
                        return (await http.request(method, url, json=body, headers=headers)).status_code

                    anonymous = await http.request(method, url, json={} if method == "post" else None)
                    assert anonymous.status_code == 401, (service, key)
                    assert anonymous.headers["www-authenticate"] == "Bearer"
                    assert await call({"Authorization": "Bearer not-a-key"}) == 401, (service, key)
                    assert await call({"Authorization": "Basic YWRtaW46YWRtaW4="}) == 401, (service, key)
                    for role in Role:
                        # a staff feed is its owner's: each role asks for its key's subject's feed
                        subject = SUBJECTS.get(role.value, "someone")
                        own = url.replace("/v1/staff/someone/", f"/v1/staff/{subject}/")
                        own += "?after=-1" if own.endswith("/feed/stream") else ""  # a 422, not a stream
                        status = await call(stack.auth_headers(role.value), own)
                        if role.value in admitted:
                            assert status not in (401, 403), (service, key, role, status)
                        else:
                            assert status == 403, (service, key, role, status)
                    checked += 1
    assert checked >= 20
    # refusals by authenticated callers are in each service's audit trail
    for service in BACKEND:
        denied = await stack.fetchval(service, "SELECT count(*) FROM audit_log WHERE outcome = 'denied'")
        assert denied > 0, service


async def test_provider_webhooks_need_a_fresh_valid_signature_and_are_not_replayed(infra: Infra) -> None:
    stack = await make_stack(infra, RUN_ROOT, KATFLOW_SMS_WEBHOOK_SECRET=WEBHOOK_SECRET)
    try:
        stack.start("notifications")
        url = f"{stack.url('notifications')}/v1/sms/inbound"
        payload = {"id": "in-1", "from": "+15550142000", "text": "HELP"}
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.post(url, json=payload)).status_code == 401  # unsigned
            forged_body, forged = signed(payload, "whsec_" + "Zm9yZ2VkLXNlY3JldA==")
            assert (await http.post(url, content=forged_body, headers=forged)).status_code == 401
            stale_body, stale = signed(payload, WEBHOOK_SECRET, timestamp=int(time.time()) - 3600)
            assert (await http.post(url, content=stale_body, headers=stale)).status_code == 401
            body, headers = signed(payload, WEBHOOK_SECRET)
            tampered = body.replace(b"HELP", b"STOP")
            assert (await http.post(url, content=tampered, headers=headers)).status_code == 401
            first = await http.post(url, content=body, headers=headers)
            replay = await http.post(url, content=body, headers=headers)
        assert first.status_code == 200 and first.json() != {"status": "duplicate"}
        assert replay.status_code == 200 and replay.json() == {"status": "duplicate"}
        rows = await stack.fetchval(
            "notifications",
            "SELECT count(*) FROM audit_log WHERE actor = 'provider:sms' AND role = 'provider_callback'",
        )
        assert rows == 2  # the accepted call and the replay, both audited; the forgeries never got in
    finally:
        stack.stop()


# --------------------------------------------------------------------------- JWTs and the rate limit


class Jwks:
    """An identity provider's JWKS endpoint on loopback, signing tokens with a key made here."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        document = json.dumps({"keys": [{**jwk, "kid": "e2e", "alg": "RS256", "use": "sig"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/certs"
        self.issuer = "https://idp.e2e.example"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, roles: list[str], minutes: int = 5) -> str:
        now = datetime.now(UTC)
        claims = {"iss": self.issuer, "aud": "katflow", "sub": "dr-jones", "iat": now, "roles": roles}
        claims["exp"] = now + timedelta(minutes=minutes)
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": "e2e"})


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    issuer = Jwks()
    yield issuer
    issuer.server.shutdown()


async def test_jwt_roles_and_the_public_form_rate_limit(infra: Infra, jwks: Jwks) -> None:
    stack = await make_stack(
        infra,
        RUN_ROOT,
        KATFLOW_PUBLIC_RATE_LIMIT_PER_MINUTE="3",
        KATFLOW_AUTH_JWKS_URL=jwks.url,
        KATFLOW_AUTH_ISSUER=jwks.issuer,
    )
    try:
        stack.start("intake")
        form = f"{stack.url('intake')}/v1/consultation-requests"
        async with httpx.AsyncClient(timeout=10) as http:
            answers = [await http.post(form, json=consultation_request(n)) for n in range(4)]
            assert [a.status_code for a in answers] == [202, 202, 202, 429]
            assert int(answers[3].headers["retry-after"]) >= 1
            course = f"{stack.url('intake')}/v1/courses/{answers[0].json()['course_id']}"

            def as_(token: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {token}"}

            assert (await http.get(course, headers=as_(jwks.token(["clinician"])))).status_code == 200
            assert (await http.get(course, headers=as_(jwks.token(["integrator"])))).status_code == 403
            assert (await http.get(course, headers=as_(jwks.token(["clinician"], -5)))).status_code == 401
            assert (await http.get(course, headers=stack.auth_headers())).status_code == 200  # not limited
        actors = await stack.fetchval(
            "intake", "SELECT array_agg(DISTINCT actor ORDER BY actor) FROM audit_log WHERE outcome = 'ok'"
        )
        assert actors == ["anonymous:web-form", "clin-1", "dr-jones"]  # subjects: the key's name, the sub
    finally:
        stack.stop()


async def test_forwarded_headers_from_an_untrusted_peer_do_not_pick_the_rate_limit_bucket(
    infra: Infra,
) -> None:
    """25 posts, each with another X-Forwarded-For, from loopback (not a trusted proxy by default):
    one bucket, so all but the first three are refused (uvicorn used to take the header from
    loopback, giving each post a fresh bucket)."""
    stack = await make_stack(infra, RUN_ROOT, KATFLOW_PUBLIC_RATE_LIMIT_PER_MINUTE="3")
    try:
        stack.start("intake")
        form = f"{stack.url('intake')}/v1/consultation-requests"
        async with httpx.AsyncClient(timeout=10) as http:
            statuses = [
                (
                    await http.post(
                        form, json=consultation_request(n), headers={"X-Forwarded-For": f"198.51.100.{n + 1}"}
                    )
                ).status_code
                for n in range(25)
            ]
        assert statuses == [202] * 3 + [429] * 22
    finally:
        stack.stop()


# --------------------------------------------------------------------------- PHI discipline

MARK = "Zqxmark"  # in every name, the email and the indication
PHONE_DIGITS = "5550173946"


def marked_request() -> dict[str, Any]:
    return consultation_request(
        0,
        patient={
            "given_name": f"{MARK}given",
            "family_name": f"{MARK}family",
            "date_of_birth": "1979-03-04",
            "email": f"{MARK.lower()}.patient@example.org",
            "phone": f"+1{PHONE_DIGITS}",
            "time_zone": "America/Chicago",
        },
        consent={"email": True, "sms": True},
        indication=f"{MARK} low mood since the accident",
        preferred_route="iv",
    )


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [m for m in (MARK.lower(), PHONE_DIGITS) if m in lowered]


@pytest.fixture
async def course(infra: Infra) -> AsyncIterator[CourseDriver]:
    provider = FakeProvider().start()
    try:
        # the console too: it keeps patients' names (contact topic)
        async with course_stack(
            infra,
            RUN_ROOT,
            *BACKEND,
            "console",
            KATFLOW_SMS_BASE_URL=provider.url,
            KATFLOW_SMS_API_KEY="e2e-provider-key",
            KATFLOW_SMS_WEBHOOK_SECRET=WEBHOOK_SECRET,
        ) as driver:
            yield driver
    finally:
        provider.stop()


async def every_record(stack: Stack) -> dict[str, list[Any]]:
    """Every record on every one of this stack's topics, read to the end of each partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.infra.kafka_bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        names = sorted(stack.topic(spec.name) for spec in topics.ALL_TOPICS)
        partitions = [
            TopicPartition(stack.topic(spec.name), p)
            for spec in topics.ALL_TOPICS
            for p in range(spec.partitions)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: dict[str, list[Any]] = {name: [] for name in names}
        deadline = time.monotonic() + 30
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, "topics not read to the end in 30 s"
            for tp, batch in (await consumer.getmany(timeout_ms=500)).items():
                found[tp.topic].extend(batch)
        return found
    finally:
        await consumer.stop()


async def appointment_ids(stack: Stack, patient_id: str) -> list[uuid.UUID]:
    sql = "SELECT array_agg(appointment_id) FROM appointments WHERE patient_id = $1"
    return list(await stack.fetchval("notifications", sql, uuid.UUID(patient_id)) or [])


async def open_the_patient_page(course: CourseDriver) -> tuple[str, list[str]]:
    """From the newest email that carries a page link: the page as the patient uses it. Returns the
    link's token and every URL requested or redirected to."""
    stack = course.stack

    async def linked() -> str | None:
        for m in reversed(stack.sink.messages()):
            body = m.message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
            found = re.search(r"/p/([A-Za-z0-9_-]{32})\b", body.get_content() if body else "")
            if found:
                return found.group(1)
        return None

    token = await wait_for(linked, within=30)
    assert token, "no patient email with a page link"
    base = f"{stack.url('notifications')}/portal/p/{token}"
    urls: list[str] = []

    def seen(response: httpx.Response) -> httpx.Response:
        urls.extend([str(r.url) for r in response.history] + [str(response.url)])
        urls.extend(r.headers.get("location", "") for r in response.history)
        return response

    async with httpx.AsyncClient(timeout=30, follow_redirects=True) as patient:
        asked = seen(await patient.get(base))
        assert asked.status_code == 200 and not leaks(asked.text), "the page before the second factor"
        opened = seen(await patient.post(f"{base}/confirm", data={"date_of_birth": "1979-03-04"}))
        assert opened.status_code == 200 and f"{MARK}given" in opened.text  # the page is theirs
        [appointment, *_] = re.findall(r'name="appointment" value="([0-9a-f-]{36})"', opened.text)
        ics = seen(await patient.post(f"{base}/calendar", data={"appointment": appointment}))
        assert ics.status_code == 200 and "BEGIN:VCALENDAR" in ics.text
        saved = seen(await patient.post(f"{base}/preferences", data={"email": "on", "sms": "on"}))
        assert saved.status_code == 200
    return token, urls


def record_text(record: Any) -> str:
    headers = " ".join(f"{k}={v.decode(errors='replace')}" for k, v in record.headers or [])
    key = record.key.decode(errors="replace") if record.key else ""
    value = record.value.decode(errors="replace") if record.value else ""
    return f"{key} {headers} {value}"


async def test_phi_markers_stay_off_workflow_topics_logs_and_audit(course: CourseDriver) -> None:
    stack = course.stack
    course.start_on("mon", "America/New_York")  # the clinic's zone; a fixed day, not the real date
    accepted = await course.post(course.intake("/consultation-requests"), marked_request(), 202)
    course.course_id, course.patient_id = accepted["course_id"], accepted["patient_id"]
    await course.attend_consultation()
    await course.screen_and_decide("iv")
    p = load_protocols().current(Route.IV).preparation
    await course.prepare(p.consent_document, p.sessions_required, p.rems_enrollment_required)
    await course.wait("PreparationCompleted")
    checks = [(c.check.value, c.offset_minutes) for c in load_protocols().get("iv@1").dosing.checks]
    await course.dose(1, checks)

    async def history() -> list[Any]:  # a staff read of the patient's messages, once notifications has some
        listed = await course.http.get(
            f"{stack.url('notifications')}/v1/patients/{course.patient_id}/deliveries"
        )
        assert listed.status_code == 200, listed.text
        return list(listed.json())

    assert await wait_for(history, within=30), "notifications listed no message for the patient"

    async def sent() -> int:
        return int(
            await stack.fetchval("notifications", "SELECT count(*) FROM deliveries WHERE status = 'sent'")
        )

    assert await wait_for(sent, within=30)

    # the markers are on the restricted topic (so the search below would see them) ...
    records = await every_record(stack)
    contact = stack.topic(topics.PATIENT_CONTACT)
    assert any(leaks(record_text(r)) for r in records[contact])
    # ... and on no other topic
    for name, found in records.items():
        if name == contact:
            continue
        for record in found:
            assert not leaks(record_text(record)), f"PHI marker on {name}: {record_text(record)[:300]}"
    assert sum(len(v) for k, v in records.items() if k != contact) > 20

    # the patient opens their page from a message (the second factor, the page, a calendar file, a
    # preference saved): no marker, patient or appointment id in any URL, and (below) in no log line.
    # The page lists the next dose once notifications has heard of its booking.
    next_dose = uuid.UUID((await course.open_appointment("dosing"))["id"])

    async def known() -> bool:
        return next_dose in await appointment_ids(stack, course.patient_id)

    assert await wait_for(known, within=30), "notifications never heard of the next dose"
    token, urls = await open_the_patient_page(course)

    # the console has taken the marked names in (its patient search), so its log saw them pass ...
    async def console_knows() -> int:
        sql = "SELECT count(*) FROM patient_names WHERE patient_id = $1"
        return int(await stack.fetchval("console", sql, uuid.UUID(course.patient_id)))

    assert await wait_for(console_knows, within=30)
    # ... and they are in no log line of any service, the console's included
    logs = sorted((stack.cfg.run_dir / "logs").glob("*.log"))
    assert {p.stem for p in logs} >= {*BACKEND, "console"}
    for path in logs:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            assert not leaks(line), f"PHI marker in {path.name}:{number}: {line[:300]}"
            assert token not in line, f"a page link's token in {path.name}:{number}"
    ids = [course.patient_id.lower(), *[str(a) for a in await appointment_ids(stack, course.patient_id)]]
    for url in urls:
        assert not leaks(url) and not [i for i in ids if i in url.lower()], url

    # the audit trail names the patient by id only, and has the write, the reads and the messages
    for service in BACKEND:
        conn: asyncpg.Connection = await stack.db(service)
        try:
            rows = [dict(r) for r in await conn.fetch("SELECT * FROM audit_log")]
        finally:
            await conn.close()
        assert rows, service
        assert not leaks(json.dumps(rows, default=str)), service
    patient = uuid.UUID(course.patient_id)
    created = await stack.fetchval(
        "intake",
        "SELECT count(*) FROM audit_log WHERE action = 'consultation_request.create' AND patient_id = $1",
        patient,
    )
    contact_written = await stack.fetchval(
        "notifications",
        "SELECT count(*) FROM audit_log WHERE action = 'event.PatientContactUpdated' AND patient_id = $1",
        patient,
    )
    messages = await stack.fetchval(
        "notifications",
        "SELECT count(*) FROM audit_log WHERE action = 'message.sent' AND patient_id = $1"
        " AND detail ? 'template_id' AND detail ? 'channel'",
        patient,
    )
    reads = await stack.fetchval(
        "scheduling",
        "SELECT count(*) FROM audit_log WHERE actor = 'clin-1' AND course_id = $1",
        uuid.UUID(course.course_id),
    )
    assert (created, contact_written) == (1, 1) and messages >= 2 and reads >= 1
