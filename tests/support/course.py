"""Driving a whole treatment course through the staff APIs, with service time moved by a file.

``TimeMachine`` writes the seconds the services add to the wall clock (KATFLOW_CLOCK_OFFSET_FILE);
``EventTap`` keeps one consumer on the workflow topics for the whole test; ``CourseDriver`` does what
staff would do at each step and waits for the events that step causes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from aiokafka import AIOKafkaConsumer

from katflow_shared.contracts import topics
from katflow_shared.contracts.common import Route
from katflow_shared.treatment_protocols import Protocol, default_directory, load_protocols
from katflow_tools.time_machine import TimeMachine

from .infra import Infra
from .stack import Stack, consultation_request, make_stack

STAFF = "clin-1"  # the test staff key's subject (tests.support.stack.SUBJECTS)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def course_start(weekday: str, zone: str, today: date) -> datetime:
    """A fixed day for a course test to start on, whatever day the suite runs: 10:00 in ``zone`` on
    the first ``weekday`` of June next year. In the future (the services' clock only moves forward),
    and the months a course lasts hold no daylight-saving change and no year end."""
    first = date(today.year + 1, 6, 1)
    day = first + timedelta(days=(WEEKDAYS.index(weekday) - first.weekday()) % 7)
    return datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo(zone))


@dataclass(frozen=True)
class Seen:
    topic: str
    type: str
    data: dict[str, Any]
    key: str
    id: str  # ce_id


@dataclass
class EventTap:
    """All workflow events since the start of the test, read by one background consumer."""

    stack: Stack
    events: list[Seen] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> EventTap:
        names = [self.stack.topic(t) for t in (topics.INTAKE, topics.SCHEDULING)]
        self._consumer = AIOKafkaConsumer(
            *names,
            bootstrap_servers=self.stack.infra.kafka_bootstrap,
            group_id=f"test-tap-{uuid.uuid4()}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            for batch in (await self._consumer.getmany(timeout_ms=200)).values():
                for r in batch:
                    headers = {k: v.decode() for k, v in r.headers}
                    name = headers["ce_type"].split(".")[2]
                    topic = r.topic.removeprefix(self.stack.cfg.topic_prefix)
                    self.events.append(
                        Seen(topic, name, json.loads(r.value), r.key.decode(), headers["ce_id"])
                    )

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        if self._consumer:
            await self._consumer.stop()

    def of(self, course_id: str, topic: str | None = None) -> list[Seen]:
        return [e for e in self.events if e.key == course_id and (topic is None or e.topic == topic)]

    async def wait(self, pred: Callable[[Seen], bool], count: int = 1, within: float = 60) -> list[Seen]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = [e for e in self.events if pred(e)]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"waited {within}s; events so far: {[(e.type, e.data) for e in self.events[-15:]]}"
        )


def is_(course_id: str, name: str, **data: Any) -> Callable[[Seen], bool]:
    return lambda e: (
        e.key == course_id and e.type == name and all(e.data.get(k) == v for k, v in data.items())
    )


def first_copies(events: list[Seen]) -> list[Seen]:
    """Each event once: a relay killed between the broker's acknowledgement and marking the row
    publishes it again with the same ce_id, which consumers and integrators dedupe on."""
    first: dict[str, Seen] = {}
    for e in events:
        first.setdefault(e.id, e)
    return list(first.values())  # in order of first appearance


def names(events: list[Seen]) -> list[str]:
    """Event names, with the appointment kind or check appended where it tells steps apart."""
    return [
        f"{e.type}:{e.data['kind']}"
        if "kind" in e.data
        else f"{e.type}:{e.data['check']}"
        if "check" in e.data
        else e.type
        for e in events
    ]


def dosing_check_in() -> dict[str, Any]:
    return {
        "dosing": {
            "blood_pressure": {"systolic": 124, "diastolic": 78},
            "ride_home_confirmed": True,
            "fasting_confirmed": True,
        },
    }


def discharge() -> dict[str, Any]:
    return {
        "vitals": {"post_dose_bp": {"systolic": 136, "diastolic": 84}, "max_systolic": 138, "min_spo2": 96},
        "adverse_events": [{"code": "nausea", "severity": "mild"}],
        "discharge_assessment_passed": True,
    }


def screening(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "phq9": 19,
        "gad7": 12,
        "cssrs": {"wish_to_be_dead": True, "suicidal_thoughts": False, "behaviour_past_3_months": False},
        "blood_pressure": {"systolic": 122, "diastolic": 80},
        "contraindications": [],
    }
    body.update(changes)
    return body


@dataclass
class CourseDriver:
    stack: Stack
    http: httpx.AsyncClient
    tap: EventTap
    clock: TimeMachine
    course_id: str = ""
    patient_id: str = ""

    def intake(self, path: str) -> str:
        return f"{self.stack.url('intake')}/v1{path}"

    def scheduling(self, path: str) -> str:
        return f"{self.stack.url('scheduling')}/v1{path}"

    async def post(self, url: str, body: dict[str, Any], expect: int = 200) -> dict[str, Any]:
        resp = await self.http.post(url, json=body)
        assert resp.status_code == expect, f"{url}: {resp.status_code} {resp.text}"
        out: dict[str, Any] = resp.json()
        return out

    async def refused(self, url: str, body: dict[str, Any], status: int, rule: str) -> None:
        """The request breaks ``rule``: answered ``status`` with the rule named in detail[0].type."""
        resp = await self.http.post(url, json=body)
        assert resp.status_code == status, f"{url}: {resp.status_code} {resp.text}"
        assert resp.json()["detail"][0]["type"] == rule, resp.text

    def start_on(self, weekday: str, zone: str) -> datetime:
        """Move the services' clock to the test's fixed start (``course_start``); return it."""
        start = course_start(weekday, zone, datetime.now(UTC).date())
        self.clock.jump_to(start)
        return start

    async def plan(self) -> list[dict[str, Any]]:
        """The course's doses as ``GET /v1/courses/{id}`` shows them: planned against booked."""
        resp = await self.http.get(self.scheduling(f"/courses/{self.course_id}"))
        assert resp.status_code == 200, resp.text
        doses: list[dict[str, Any]] = resp.json()["doses"]
        return doses

    async def request(self, route: str, n: int = 0, time_zone: str | None = None) -> None:
        body = consultation_request(n, preferred_route=route)
        if time_zone:
            body["patient"]["time_zone"] = time_zone
        accepted = await self.post(self.intake("/consultation-requests"), body, 202)
        self.course_id, self.patient_id = accepted["course_id"], accepted["patient_id"]

    async def appointments(self) -> list[dict[str, Any]]:
        resp = await self.http.get(self.scheduling(f"/courses/{self.course_id}/appointments"))
        assert resp.status_code == 200, resp.text
        rows: list[dict[str, Any]] = resp.json()
        return rows

    async def open_appointment(self, kind: str, within: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = [a for a in await self.appointments() if a["kind"] == kind and a["status"] == "scheduled"]
            if found:
                return found[0]
            await asyncio.sleep(0.2)
        raise AssertionError(f"no scheduled {kind} appointment; have {await self.appointments()}")

    async def wait(self, name: str, count: int = 1, **data: Any) -> list[Seen]:
        return await self.tap.wait(is_(self.course_id, name, **data), count)

    async def attend_consultation(self) -> None:
        appt = await self.open_appointment("consultation")
        self.clock.jump_to(datetime.fromisoformat(appt["starts_at"]))
        await self.post(self.scheduling(f"/appointments/{appt['id']}/check-in"), {})
        await self.post(self.scheduling(f"/appointments/{appt['id']}/complete"), {})
        await self.wait("AppointmentCompleted", kind="consultation")

    async def screen_and_decide(self, route: str) -> None:
        out = await self.post(self.intake(f"/courses/{self.course_id}/screening"), screening(), 201)
        assert out["halted"] is False and out["suggested_outcome"] == "eligible", out
        decision = {"outcome": "eligible", "route": route}
        await self.post(self.intake(f"/courses/{self.course_id}/eligibility"), decision)
        await self.wait("EligibilityDecided")

    async def prepare(self, consent_document: str, sessions: int, rems: bool) -> list[dict[str, Any]]:
        """Every checklist step; returns each step's answer (the last one says prepared)."""
        base = f"/courses/{self.course_id}/preparation"
        steps: list[tuple[str, dict[str, Any]]] = [
            ("/sessions", {"held_on": "2026-01-05", "clinician_id": "ther-1"}) for _ in range(sessions)
        ]
        steps += [
            ("/consent", {"document_version": consent_document, "signed": True}),
            ("/intention", {"recorded": True}),
            ("/baseline", {"phq9": 19, "gad7": 12}),
            ("/ride-home", {"arranged": True}),
        ]
        if rems:
            steps.append(("/rems-enrollment", {"enrollment_id": "REMS-123456"}))
        return [await self.post(self.intake(base + path), body) for path, body in steps]

    async def prepared(self, route: str) -> Protocol:
        """Request → consultation → screening → eligible → checklist → PreparationCompleted."""
        protocol = load_protocols().current(Route(route))
        await self.request(route)
        await self.attend_consultation()
        await self.screen_and_decide(route)
        p = protocol.preparation
        await self.prepare(p.consent_document, p.sessions_required, p.rems_enrollment_required)
        await self.wait("PreparationCompleted")
        return protocol

    async def deliveries(self) -> Counter[str]:
        """Messages notifications queued for the course, counted by 'audience:template' (any channel)."""
        resp = await self.http.get(
            f"{self.stack.url('notifications')}/v1/courses/{self.course_id}/deliveries"
        )
        assert resp.status_code == 200, resp.text
        return Counter(f"{d['audience']}:{d['template_id'].split('.')[0]}" for d in resp.json())

    async def deliveries_at_least(self, wanted: dict[str, int], within: float = 60) -> Counter[str]:
        """Wait until notifications has queued at least ``wanted``; return all it queued."""
        deadline = time.monotonic() + within
        while True:
            got = await self.deliveries()
            if all(got[k] >= n for k, n in wanted.items()) or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.5)

    async def assert_notified_each_step(
        self, course_id: str, protocol: Protocol, more: dict[str, int] | None = None
    ) -> None:
        """Notifications reacted to each step of the completed course: at least one delivery a step
        (any channel; channels, wording and extra messages are notifications' own), and ``more``."""
        n = protocol.total_doses
        scheduled = sum(e.type == "AppointmentScheduled" for e in self.tap.of(course_id))
        wanted = {
            "patient:consultation_ack": 1,
            "staff:new_consultation_request": 1,
            "patient:eligibility_update": 1,
            "patient:booking_confirmation": scheduled,
            "staff:monitoring_check": len(protocol.dosing.checks) * n,
            "patient:aftercare": n,
            "patient:integration_due": n,
            "staff:integration_due": n,
            "patient:course_survey": 1,
            **(more or {}),
        }
        got = await self.deliveries_at_least(wanted)
        assert all(got[k] >= n for k, n in wanted.items()), got

    async def pending_timers(self, appointment_id: str) -> list[tuple[str, datetime]]:
        rows = await self.stack.fetch(
            "scheduling",
            "SELECT kind, due_at FROM timers WHERE status = 'pending' AND key LIKE $1 ORDER BY due_at",
            f"%appt:{appointment_id}:%",
        )
        return [(r["kind"], r["due_at"]) for r in rows]

    async def dose(self, number: int, checks: list[tuple[str, int]]) -> None:
        """Check in, administer, wait for each monitoring prompt, discharge, hold the integration."""
        appt = await self.open_appointment("dosing")
        self.clock.jump_to(datetime.fromisoformat(appt["starts_at"]))
        url = self.scheduling(f"/appointments/{appt['id']}")
        await self.post(f"{url}/check-in", dosing_check_in())
        given = await self.post(f"{url}/administration", {"dose_mg": 35.0})
        administered = self.clock.now()
        for check, minutes in checks:
            self.clock.jump_to(administered + timedelta(minutes=minutes, seconds=1))
            await self.wait("MonitoringCheckDue", number, check=check)
        await self.post(f"{url}/session", discharge())
        await self.wait("SessionAdministered", dose_number=number, session_id=given["session_id"])
        await self.wait("IntegrationDue", dose_number=number)
        await self.hold_integration(number)

    async def hold_integration(self, count: int) -> None:
        appt = await self.open_appointment("integration")
        self.clock.jump_to(datetime.fromisoformat(appt["starts_at"]))
        url = self.scheduling(f"/appointments/{appt['id']}")
        await self.post(f"{url}/check-in", {})
        await self.post(f"{url}/complete", {})
        await self.wait("AppointmentCompleted", count, kind="integration")


@contextlib.asynccontextmanager
async def course_stack(
    infra: Infra, run_root: Path, *services: str, **env: str
) -> AsyncIterator[CourseDriver]:
    """A fresh stack whose services read their clock offset from a file this driver controls
    (``env``: more settings for them)."""
    clock = TimeMachine(run_root / f"clock-{uuid.uuid4().hex}.txt")
    stack = await make_stack(infra, run_root, KATFLOW_CLOCK_OFFSET_FILE=str(clock.path), **env)
    try:
        async with driving(stack, clock, *services) as driver:
            yield driver
    finally:
        stack.stop()


@contextlib.asynccontextmanager
async def driving(stack: Stack, clock: TimeMachine, *services: str) -> AsyncIterator[CourseDriver]:
    """Start ``services`` on ``stack`` (the back-end ones when none is named), then a driver of a
    course on them that taps the workflow topics and calls the services as staff."""
    stack.start(*services)
    tap = await EventTap(stack).start()
    try:
        async with httpx.AsyncClient(timeout=30, headers=stack.auth_headers("staff")) as http:
            yield CourseDriver(stack, http, tap, clock)
    finally:
        await tap.stop()


def dose_steps(protocol: Protocol) -> list[str]:
    """The scheduling events of one dose, when staff act on time and policy waits for integration."""
    return [
        "AppointmentScheduled:dosing",
        *(f"MonitoringCheckDue:{c.check.value}" for c in protocol.dosing.checks),
        "SessionAdministered",
        "AppointmentCompleted:dosing",
        "AppointmentScheduled:integration",
        "IntegrationDue",
        "AppointmentCompleted:integration",
    ]


def dose_with_integration_cancelled(protocol: Protocol) -> list[str]:
    """The scheduling events of one dose whose integration appointment is cancelled and not booked
    again before its window closes: the session is overdue."""
    return [*dose_steps(protocol)[:-1], "AppointmentCancelled:integration", "IntegrationOverdue"]


def protocols_with_iv_2(folder: Path) -> Path:
    """The shipped files and an `iv@2` (iv@1 revised: one preparation session more)."""
    shutil.copytree(default_directory(), folder)
    revised = json.loads((folder / "iv@1.json").read_text())
    revised["version"] = 2
    revised["title"] += " (revised)"
    revised["preparation"]["sessions_required"] += 1
    (folder / "iv@2.json").write_text(json.dumps(revised))
    assert load_protocols(folder).get("iv@2").version == 2  # a valid file, as a release would ship it
    return folder
