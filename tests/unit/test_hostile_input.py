"""Hostile input at the edges, without I/O: request bodies over the limit (declared or streamed),
records that would have stalled a partition, and PHI kept out of log lines and dead-letter headers."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.types import Message

from katflow_shared.contracts import PatientContactUpdated
from katflow_shared.logging import REDACTED, redact_phi
from katflow_shared.messaging.cloudevents import Envelope, decode
from katflow_shared.messaging.errors import InvalidMessage, classify
from katflow_shared.runtime import MAX_BODY_BYTES, BodySizeLimit
from tests.support.patient_events import consultation_requested


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    return app


async def chunks(total: int, size: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


async def test_body_over_the_limit_is_413_whether_declared_or_streamed() -> None:
    transport = httpx.ASGITransport(app=echo_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await http.post("/echo", content=b"x" * MAX_BODY_BYTES)).json() == {"bytes": MAX_BODY_BYTES}
        assert (await http.post("/echo", content=b"x" * (MAX_BODY_BYTES + 1))).status_code == 413
        streamed = await http.post("/echo", content=chunks(MAX_BODY_BYTES * 4))  # chunked: no length
        assert streamed.status_code == 413
        assert (await http.post("/echo", content=chunks(1000))).json() == {"bytes": 1000}
        lying = await http.post("/echo", content=b"{}", headers={"content-length": "-1"})
        assert lying.status_code == 400


@pytest.mark.parametrize(
    "declared",
    ["²".encode(), b"\xb2", "١٢".encode(), b"1_0", b" 10", b"+10", b"-1", b""],
    ids=[
        "superscript-utf8",
        "superscript-latin1",
        "arabic-digits",
        "underscore",
        "space",
        "plus",
        "minus",
        "empty",
    ],
)
async def test_a_content_length_that_is_not_ascii_digits_is_a_400(declared: bytes) -> None:
    """A malformed Content-Length is the client's error: a 400 (it was a 413 by bytes.isdigit())."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "headers": [(b"content-length", declared)],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("t", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
        "asgi": {"version": "3.0"},
    }
    await echo_app()(scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 400
    assert (
        b"".join(m.get("body", b"") for m in sent[1:])
        == b'{"detail":"Content-Length must be a decimal number of bytes"}'
    )


async def test_a_declared_length_with_leading_zeros_is_read_as_its_number() -> None:
    transport = httpx.ASGITransport(app=echo_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        padded = await http.post("/echo", content=b"{}", headers={"content-length": "0000000000002"})
        assert padded.json() == {"bytes": 2}
        huge = await http.post("/echo", content=b"{}", headers={"content-length": "9" * 5000})
        assert huge.status_code == 413


def test_phi_keys_are_redacted_at_any_depth() -> None:
    line = redact_phi(
        None,
        "info",
        {
            "event": "contact_stored",
            "patient_id": "p-1",
            "email": "a@b.example",
            "recipient": {"phone": "+15550100000", "channel": "sms"},
            "changes": [{"given_name": "Ana", "field": "name"}],
        },
    )
    assert line["email"] == REDACTED and line["recipient"] == REDACTED
    assert line["changes"] == [{"given_name": REDACTED, "field": "name"}]
    assert line["patient_id"] == "p-1" and line["event"] == "contact_stored"


def _valid() -> tuple[list[tuple[str, bytes]], bytes]:
    envelope = Envelope(consultation_requested(zone="Europe/Berlin"), source="/test")
    return envelope.headers(), envelope.body()


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("ce_id", b"not-a-uuid", "ce_id is not a UUID"),
        ("ce_time", b"yesterday", "ce_time"),
        ("ce_correlationid", b"evil\x00id", "ce_correlationid"),
        ("ce_causationid", b"x" * 500, "ce_causationid"),
    ],
)
def test_headers_that_would_fail_later_are_refused_at_decode(header: str, value: bytes, message: str) -> None:
    """Such records used to reach the database (a non-UUID inbox id was retried forever)."""
    headers, body = _valid()
    changed = [(k, value if k == header else v) for k, v in headers] + (
        [(header, value)] if header not in dict(headers) else []
    )
    with pytest.raises(InvalidMessage, match=message):
        decode(changed, body)


def test_deeply_nested_body_is_invalid_not_a_crash() -> None:
    headers, _ = _valid()
    with pytest.raises(InvalidMessage, match="RecursionError"):
        decode(headers, b"[" * 100_000 + b"]" * 100_000)


def test_values_the_database_cannot_hold_are_dead_lettered_not_retried() -> None:
    assert classify(asyncpg.exceptions._base.DataError("invalid input for query argument $1")) == "permanent"
    assert classify(asyncpg.UntranslatableCharacterError("unsupported Unicode escape")) == "permanent"
    assert classify(asyncpg.InterfaceError("connection is closed")) == "transient"


def test_an_invalid_contact_event_names_fields_not_their_values() -> None:
    """The error goes into a dead letter's headers: it must not carry the patient's details."""
    now = datetime.now(UTC).isoformat()
    body = {
        "patient_id": str(uuid.uuid4()),
        "given_name": "Zqxmarkgiven",
        "family_name": "Zqxmarkfamily",
        "email": "not-an-email Zqxmark",
        "phone": "Zqxmark-phone",
        "time_zone": "Nowhere/Zqxmark",
        "updated_at": now,
    }
    envelope = Envelope(
        PatientContactUpdated.model_construct(**body),  # type: ignore[arg-type]
        source="/test",
    )
    with pytest.raises(InvalidMessage) as raised:
        decode(envelope.headers(), json.dumps(body).encode())
    assert "body invalid" in str(raised.value) and "zqxmark" not in str(raised.value).lower()
