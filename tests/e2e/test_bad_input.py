"""Bad consultation requests get a 4xx naming the field; nothing is stored or emitted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.stack import Stack, consultation_request

# a ten-year-old on whatever day the suite runs (a fixed 2015 birth date turns 18 on 2033-01-01)
UNDER_AGE = f"{datetime.now(UTC).year - 10}-01-01"


def _patient(**changes: Any) -> dict[str, Any]:
    body = consultation_request()
    body["patient"] = {**body["patient"], **changes}
    return body


def _without_contact() -> dict[str, Any]:
    body = consultation_request()
    body["patient"] = {k: v for k, v in body["patient"].items() if k != "email"}
    body["consent"] = {"email": False, "sms": False}
    return body


CASES: list[tuple[str, Any, int, str]] = [
    ("malformed json", b'{"patient": {', 422, "json_invalid"),
    ("missing patient", {"indication": "x y", "consent": {}}, 422, "patient"),
    ("missing given name", _patient(given_name=None), 422, "given_name"),
    ("bad time zone", _patient(time_zone="Mars/Olympus"), 422, "time_zone"),
    ("neither email nor phone", _without_contact(), 422, "email address or a phone number"),
    ("bad email", _patient(email="not-an-email"), 422, "email"),
    ("bad phone", _patient(phone="555-1234"), 422, "phone"),
    ("unknown field", {**consultation_request(), "diagnosis": "x"}, 422, "diagnosis"),
    ("under age", _patient(date_of_birth=UNDER_AGE), 422, "date_of_birth"),
    ("sms consent without phone", {**consultation_request(), "consent": {"sms": True}}, 422, "phone"),
    ("bad route", {**consultation_request(), "preferred_route": "smoked"}, 422, "preferred_route"),
]


@pytest.mark.parametrize(("case", "body", "status", "mentions"), CASES, ids=[c[0] for c in CASES])
async def test_rejected_with_the_field_named(
    intake: Stack, case: str, body: Any, status: int, mentions: str
) -> None:
    stack = intake
    async with httpx.AsyncClient() as http:
        url = f"{stack.url('intake')}/v1/consultation-requests"
        if isinstance(body, bytes):
            resp = await http.post(url, content=body, headers={"content-type": "application/json"})
        else:
            resp = await http.post(url, json=body)
    assert resp.status_code == status, resp.text
    assert mentions in resp.text
    assert await stack.fetchval("intake", "SELECT count(*) FROM patients") == 0
    assert await stack.fetchval("intake", "SELECT count(*) FROM outbox") == 0


async def test_oversized_body_rejected(intake: Stack) -> None:
    stack = intake
    body = consultation_request()
    body["indication"] = "x" * 100_000
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{stack.url('intake')}/v1/consultation-requests", json=body)
    assert resp.status_code == 413
    assert await stack.fetchval("intake", "SELECT count(*) FROM outbox") == 0


async def test_the_422_names_fields_and_rules_but_echoes_no_submitted_value(intake: Stack) -> None:
    """FastAPI's 422 used to carry each invalid field's ``input``: the patient's details, sent back."""
    mark = "Zqxmark"
    body = _patient(
        given_name=mark * 20,  # too long
        email=f"{mark}-at-nowhere",
        phone=f"+{mark}",
        time_zone=f"Mars/{mark}",
        date_of_birth=f"{mark}-01-01",
    )
    body["indication"] = {"text": mark}  # wrong type: the whole object would be echoed
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{intake.url('intake')}/v1/consultation-requests", json=body)
    assert resp.status_code == 422
    assert mark.lower() not in resp.text.lower()
    named = {e["loc"][-1] for e in resp.json()["detail"]}
    assert {"given_name", "email", "phone", "time_zone", "date_of_birth", "indication"} <= named
    assert all(set(e) == {"loc", "msg", "type"} for e in resp.json()["detail"])
