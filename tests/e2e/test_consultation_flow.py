"""A consultation request travels intake → Kafka → scheduling and notifications, for real."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from cloudevents.v1.kafka import KafkaMessage, from_binary

from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts import (
    AppointmentScheduled,
    AppointmentWaitlisted,
    ConsultationRequested,
    topics,
)
from tests.conftest import RUN_ROOT
from tests.support.infra import Infra
from tests.support.stack import Stack, make_stack, post_requests, read_topic, wait_for

REQUESTS = 12
HELD_ADVISORY_LOCKS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


async def test_requests_are_booked_and_acknowledged(stack: Stack) -> None:
    stack.start()
    accepted = await post_requests(stack, REQUESTS)
    courses = {a["course_id"] for a in accepted}

    # An independent consumer reads ConsultationRequested as CloudEvents (official SDK, binary mode).
    records = await read_topic(
        stack.infra.kafka_bootstrap, stack.topic(topics.INTAKE), lambda rs: len(rs) >= REQUESTS
    )
    events = [
        from_binary(KafkaMessage(dict(r.headers), r.key, r.value), data_unmarshaller=json.loads)
        for r in records
    ]
    assert {e["type"] for e in events} == {ConsultationRequested.event_type()}
    assert {e.data["course_id"] for e in events} == courses
    for record, event in zip(records, events, strict=True):
        assert record.key.decode() == event.data["course_id"] == event["subject"]
        ConsultationRequested.model_validate(event.data)
        assert "Given" not in record.value.decode() and "@" not in record.value.decode()

    # Each course has exactly one consultation appointment.
    async with httpx.AsyncClient(headers=stack.auth_headers()) as http:
        for course in courses:

            async def booked(course: str = course) -> list[str]:
                resp = await http.get(f"{stack.url('scheduling')}/v1/courses/{course}/appointments")
                return [a["kind"] for a in resp.json()]

            assert await wait_for(booked, within=30) == ["consultation"], course  # booked asynchronously

    # Each patient got an acknowledgement and a booking confirmation; the coordinator one alert each.
    def by_subject(subject: str) -> list[tuple[str, ...]]:
        return sorted(m.rcpt_to for m in stack.sink.messages() if m.subject == subject)

    async def all_mail() -> bool:
        return len(stack.sink.messages()) >= 3 * REQUESTS

    assert await wait_for(all_mail, within=60)
    patients = sorted((a["email"],) for a in accepted)
    assert by_subject("We received your request") == patients
    assert by_subject("Your appointment is confirmed") == patients
    assert by_subject("New consultation request") == [("intake@clinic.example",)] * REQUESTS
    assert len(stack.sink.messages()) == 3 * REQUESTS
    confirmation = next(m for m in stack.sink.messages() if m.subject == "Your appointment is confirmed")
    assert any(part.get_content_type() == "text/calendar" for part in confirmation.message.walk())


async def test_appointments_never_overlap_for_a_clinician(stack: Stack) -> None:
    stack.start()
    await post_requests(stack, 30, concurrency=30)

    async def booked() -> int:
        return int(await stack.fetchval("scheduling", "SELECT count(*) FROM appointments"))

    assert await wait_for(lambda: _equals(booked, 30), within=90)
    overlaps = await stack.fetchval(
        "scheduling",
        "SELECT count(*) FROM appointments a JOIN appointments b ON a.id < b.id"
        " AND a.clinician_id = b.clinician_id AND a.during && b.during",
    )
    assert overlaps == 0


async def _equals(fn: object, expected: int) -> bool:
    return await fn() == expected  # type: ignore[operator]


async def test_a_full_calendar_waitlists_requests_and_tells_intake(infra: Infra, tmp_path: Path) -> None:
    """One consultant and a one-day horizon: at most 16 consultations fit (fewer on a weekend), so
    some of 25 requests find the calendar full. Each is booked or waitlisted, never dead-lettered,
    and intake hears of each waitlisted one."""
    clinic = json.loads(DEFAULT_CLINIC.read_text())
    clinic["booking_horizon_days"] = 1
    clinic["clinicians"] = [
        c for c in clinic["clinicians"] if "consultation" not in c["roles"] or c["id"] == "clin-3"
    ]
    (tmp_path / "clinic.json").write_text(json.dumps(clinic))
    stack = await make_stack(infra, RUN_ROOT, KATFLOW_CLINIC_CONFIG=str(tmp_path / "clinic.json"))
    try:
        stack.start()
        accepted = await post_requests(stack, 25)
        courses = {a["course_id"] for a in accepted}

        def outcome(records: list[Any]) -> dict[str, list[str]]:
            seen: dict[str, list[str]] = {}
            for r in records:
                kind = dict(r.headers)["ce_type"].decode()
                if kind in (AppointmentScheduled.event_type(), AppointmentWaitlisted.event_type()):
                    seen.setdefault(r.key.decode(), []).append(kind)
            return seen

        records = await read_topic(
            stack.infra.kafka_bootstrap,
            stack.topic(topics.SCHEDULING),
            lambda rs: outcome(rs).keys() >= courses,
        )
        seen = outcome(records)
        assert seen.keys() == courses  # each request reached an outcome: none was dead-lettered
        assert all(len(kinds) == 1 for kinds in seen.values()), seen  # booked or waitlisted, not both
        waitlisted = {c for c, kinds in seen.items() if kinds == [AppointmentWaitlisted.event_type()]}
        assert len(waitlisted) >= 25 - 16

        def alerts() -> int:
            return sum(1 for m in stack.sink.messages() if m.subject == "Booking waitlisted: calendar full")

        async def told() -> bool:
            return alerts() >= len(waitlisted)

        assert await wait_for(told, within=60)
        staff = {m.rcpt_to for m in stack.sink.messages() if m.subject == "Booking waitlisted: calendar full"}
        assert alerts() == len(waitlisted) and staff == {("intake@clinic.example",)}
        async with httpx.AsyncClient(headers=stack.auth_headers()) as http:
            resp = await http.get(f"{stack.url('scheduling')}/v1/waitlist")
        assert resp.status_code == 200, resp.text
        assert {(w["course_id"], w["kind"], w["looks"]) for w in resp.json()} == {
            (c, "consultation", 0) for c in waitlisted
        }
    finally:
        stack.stop()


async def test_the_services_wake_their_own_loops_without_notify(infra: Infra) -> None:
    """The whole consultation path (intake's request, scheduling's booking and its no-show timer,
    notifications' deliveries, reminders and NotificationSent) wakes each service's own relay,
    timer worker and dispatcher in-process: no NOTIFY on those channels goes through PostgreSQL,
    yet with 30 s polls every email arrives within seconds."""
    slow = {"KATFLOW_OUTBOX_POLL_SECONDS": "30", "KATFLOW_TIMER_POLL_SECONDS": "30"}
    stack = await make_stack(infra, RUN_ROOT, KATFLOW_DISPATCH_POLL_SECONDS="30", **slow)
    heard: list[tuple[str, str]] = []
    listeners = []
    try:
        stack.start()
        for service in ("intake", "scheduling", "notifications"):
            conn = await stack.db(service)
            listeners.append(conn)

            async def leading(conn: asyncpg.Connection = conn) -> bool:  # the relay's advisory lock
                return bool(await conn.fetchval(HELD_ADVISORY_LOCKS))

            assert await wait_for(leading, within=10, interval=0.05), service
            for channel in ("katflow_outbox", "katflow_timers", "katflow_deliveries"):
                await conn.add_listener(channel, lambda _c, _p, ch, _n, s=service: heard.append((s, ch)))
        started = time.monotonic()
        await post_requests(stack, 5)

        async def all_mail() -> bool:
            return len(stack.sink.messages()) >= 3 * 5

        assert await wait_for(all_mail, within=20, interval=0.1)
        assert time.monotonic() - started < 15  # well inside one 30 s poll of any loop
        await asyncio.sleep(0.5)
        assert heard == []
    finally:
        for conn in listeners:
            await conn.close()
        stack.stop()
