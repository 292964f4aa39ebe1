"""List endpoints have a maximum page (issue 27, lows: /v1/waitlist and the delivery lists returned
every row). Against real scheduling and notifications processes: `limit` above 200 is a 422, a page
holds at most `limit`, and following X-Next-Cursor walks every row once in order, ties included."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import RUN_ROOT
from tests.support.infra import Infra
from tests.support.stack import Stack, make_stack

ROWS = 230  # more than the largest page
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def stack(infra: Infra) -> AsyncIterator[Stack]:
    s = await make_stack(infra, RUN_ROOT)
    s.start("scheduling", "notifications")
    yield s
    s.stop()


async def walk(http: httpx.AsyncClient, url: str, limit: int) -> tuple[list[dict[str, object]], int]:
    """Every item, following the cursor; and how many pages that took."""
    items: list[dict[str, object]] = []
    pages, cursor = 0, None
    while True:
        params: dict[str, str | int] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        answer = await http.get(url, params=params)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()) <= limit
        items += answer.json()
        pages += 1
        cursor = answer.headers.get("X-Next-Cursor")
        if cursor is None:
            return items, pages


async def limits_hold(http: httpx.AsyncClient, url: str) -> None:
    for limit in (0, 201, 10_000):
        refused = await http.get(url, params={"limit": limit})
        assert refused.status_code == 422, (url, limit)
        assert [e["loc"] for e in refused.json()["detail"]] == [["query", "limit"]]
    for cursor in ("not-a-cursor", "W10", "WyJ4IiwgIjEiXQ"):  # garbage, [], ["x", "1"]
        bad = await http.get(url, params={"cursor": cursor})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "cursor"], cursor
    first = await http.get(url)  # no limit: the maximum
    assert first.status_code == 200 and len(first.json()) == 200 and "X-Next-Cursor" in first.headers


async def test_the_waitlist_pages_with_a_maximum(stack: Stack) -> None:
    """Waiting bookings in the timers table, every third pair waiting since the same instant."""
    waits = [(uuid.uuid4(), T0 + timedelta(minutes=n // 3)) for n in range(ROWS)]
    conn = await stack.db("scheduling")
    try:
        await conn.executemany(
            "INSERT INTO timers(kind, key, due_at, payload) VALUES ('booking_retry', $1, $2, $3::jsonb)",
            [
                (
                    f"pagination-{course}",
                    datetime(2999, 1, 1, tzinfo=UTC),  # never due while the test runs
                    json.dumps(
                        {
                            "course_id": str(course),
                            "kind": "consultation",
                            "since": since.isoformat(),
                            "look": 1,
                        }
                    ),
                )
                for course, since in waits
            ],
        )
    finally:
        await conn.close()
    url = f"{stack.url('scheduling')}/v1/waitlist"
    async with httpx.AsyncClient(timeout=30, headers=stack.auth_headers()) as http:
        await limits_hold(http, url)
        items, pages = await walk(http, url, 50)
    assert pages == 5
    expected = sorted(waits, key=lambda w: (w[1], str(w[0])))
    assert [
        (uuid.UUID(str(i["course_id"])), datetime.fromisoformat(str(i["waiting_since"]))) for i in items
    ] == expected


async def test_the_delivery_lists_page_with_a_maximum(stack: Stack) -> None:
    course_id, patient_id = uuid.uuid4(), uuid.uuid4()
    created = [T0 + timedelta(seconds=n // 4) for n in range(ROWS)]  # ties of four
    ids = [uuid.uuid4() for _ in created]
    conn = await stack.db("notifications")
    try:
        await conn.executemany(
            "INSERT INTO deliveries(id, idempotency_key, event_id, course_id, patient_id, audience, channel,"
            " template_id, template_version, context, notification, status, created_at)"
            " VALUES ($1, $6, $2, $3, $4, 'patient', 'email', 'consultation_ack.patient.email.en', 2,"
            " '{}'::jsonb, 'consultation_ack', 'cancelled', $5)",
            [
                (i, uuid.uuid4(), course_id, patient_id, at, f"pagination-{i}")
                for i, at in zip(ids, created, strict=True)
            ],
        )
    finally:
        await conn.close()
    expected = [str(i) for _, i in sorted(zip(created, ids, strict=True), key=lambda p: (p[0], p[1]))]
    async with httpx.AsyncClient(timeout=30, headers=stack.auth_headers()) as http:
        for url in (
            f"{stack.url('notifications')}/v1/courses/{course_id}/deliveries",
            f"{stack.url('notifications')}/v1/patients/{patient_id}/deliveries",
        ):
            await limits_hold(http, url)
            items, pages = await walk(http, url, 100)
            assert pages == 3
            assert [i["id"] for i in items] == expected


async def test_list_answers_and_audit_queries_record_the_patients_they_carried(stack: Stack) -> None:
    """Issue 27: a list answer's audit record named no patient, so "who read patient X" missed every
    list; and an audit query recorded nothing of what it searched for."""
    course_id, patients = uuid.uuid4(), [uuid.uuid4(), uuid.uuid4()]
    conn = await stack.db("notifications")
    try:
        await conn.executemany(
            "INSERT INTO deliveries(id, idempotency_key, event_id, course_id, patient_id, audience, channel,"
            " template_id, template_version, context, notification, status)"
            " VALUES ($1, $2, $3, $4, $5, 'patient', 'email', 'consultation_ack.patient.email.en', 2,"
            " '{}'::jsonb, 'consultation_ack', 'cancelled')",
            [(i, f"audit-{i}", uuid.uuid4(), course_id, p) for p in patients for i in [uuid.uuid4()]],
        )
    finally:
        await conn.close()
    notifications, scheduling = stack.url("notifications"), stack.url("scheduling")
    async with httpx.AsyncClient(timeout=30, headers=stack.auth_headers()) as http:
        listed = await http.get(f"{notifications}/v1/courses/{course_id}/deliveries")
        assert {d["patient_id"] for d in listed.json()} == {str(p) for p in patients}
        waiting = await http.get(f"{scheduling}/v1/waitlist", params={"limit": 7})
        assert len(waiting.json()) == 7
    async with httpx.AsyncClient(timeout=30, headers=stack.auth_headers("admin")) as admin:
        trail = await admin.get(f"{notifications}/v1/audit", params={"patient_id": str(patients[1])})
        assert [r["action"] for r in trail.json()] == ["GET /v1/courses/{course_id}/deliveries"]
        assert set(trail.json()[0]["patient_ids"]) == {str(p) for p in patients}
        assert trail.json()[0]["course_id"] == str(course_id)
        assert (await admin.get(f"{notifications}/v1/audit", params={"actor": "nobody"})).json() == []
    searches = await stack.fetch(
        "notifications",
        "SELECT patient_id, patient_ids, detail FROM audit_log WHERE action = 'GET /v1/audit' ORDER BY id",
    )
    assert [(s["patient_id"], set(s["patient_ids"] or ())) for s in searches] == [
        (patients[1], set(patients)),  # what it searched for, and whose records its answer named
        (None, set()),
    ]
    assert [json.loads(s["detail"]) for s in searches] == [{}, {"query": {"actor": "nobody"}}]
    read = await stack.fetchval(
        "scheduling", "SELECT course_ids FROM audit_log WHERE action = 'GET /v1/waitlist' ORDER BY id DESC"
    )
    assert sorted(read) == sorted(uuid.UUID(w["course_id"]) for w in waiting.json())
