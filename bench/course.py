"""Courses through the staff APIs up to the first dose: SessionAdministered → IntegrationDue lateness.

The services run with a clock offset file (KATFLOW_CLOCK_OFFSET_FILE): the phase moves service time
forward to each appointment, in time order across all courses, as a clinic day runs — so a
consultation or dose is never skipped (no no-shows) and no test code runs inside the services.

Timer lateness: for the IV protocol the integration window opens at discharge and IntegrationDue is
due then (``due_offset_minutes: 0``), so the timer is due the instant the discharge (POST /session)
commits. Lateness = the IntegrationDue record's Kafka timestamp (set by the relay's producer, wall
clock) minus the due time in wall-clock terms (service due time minus the clock offset then in
force, which the phase holds constant until the next step). That is the whole path a clinic would
see: discharge → SessionAdministered on Kafka → scheduling's handler arms the timer (and books the
integration session) → the worker, woken at that commit, fires it → outbox relay → broker ack.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from aiokafka import ConsumerRecord

from katflow_shared.contracts import topics
from katflow_tools.time_machine import TimeMachine

from .load import consultation_request
from .stack import BenchStack
from .stats import Summary
from .tap import Tap

IV_PREPARATION: list[tuple[str, dict[str, Any]]] = [
    ("/sessions", {"held_on": "2026-01-05", "clinician_id": "ther-1"}),
    ("/consent", {"document_version": "kat-iv-consent@1", "signed": True}),
    ("/intention", {"recorded": True}),
    ("/baseline", {"phq9": 19, "gad7": 12}),
    ("/ride-home", {"arranged": True}),
]
SCREENING = {
    "phq9": 19,
    "gad7": 12,
    "cssrs": {"wish_to_be_dead": True, "suicidal_thoughts": False, "behaviour_past_3_months": False},
    "blood_pressure": {"systolic": 122, "diastolic": 80},
    "contraindications": [],
}
DOSING_CHECK_IN = {
    "dosing": {
        "blood_pressure": {"systolic": 124, "diastolic": 78},
        "ride_home_confirmed": True,
        "fasting_confirmed": True,
    },
}
DISCHARGE = {
    "vitals": {"post_dose_bp": {"systolic": 136, "diastolic": 84}, "max_systolic": 138, "min_spo2": 96},
    "adverse_events": [],
    "discharge_assessment_passed": True,
}


class StepFailed(RuntimeError):
    pass


@dataclass
class CourseResult:
    courses: int
    steps: int  # staff HTTP calls made
    seconds: float
    lateness: Summary  # IntegrationDue Kafka time minus due time (s)
    session_to_due: Summary  # IntegrationDue minus SessionAdministered, both Kafka times (s)
    integration_due_events: int
    duplicates: int  # IntegrationDue events beyond one per session
    error: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Course:
    n: int
    course_id: str = ""
    consultation: dict[str, Any] | None = None
    dosing: dict[str, Any] | None = None
    session_id: str = ""
    due_wall: float | None = None  # epoch seconds


class CoursePhase:
    def __init__(self, stack: BenchStack, http: httpx.AsyncClient, courses: int) -> None:
        self.stack = stack
        self.http = http
        self.courses = [_Course(n) for n in range(courses)]
        self.steps = 0

    def _clock(self) -> TimeMachine:
        if self.stack.clock is None:
            raise StepFailed("the course phase needs a stack started with a movable clock")
        return self.stack.clock

    def _intake(self, path: str) -> str:
        return f"{self.stack.url('intake')}/v1{path}"

    def _scheduling(self, path: str) -> str:
        return f"{self.stack.url('scheduling')}/v1{path}"

    async def _post(self, url: str, body: dict[str, Any], expect: tuple[int, ...] = (200, 201, 202)) -> Any:
        deadline = time.monotonic() + 30
        while True:
            self.steps += 1
            resp = await self.http.post(url, json=body, headers=self.stack.auth())
            if resp.status_code in expect:
                return resp.json()
            # a step may wait on an event still in flight (e.g. the consultation's completion)
            if resp.status_code in (409, 503) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                continue
            raise StepFailed(f"POST {url.split('/v1', 1)[1]}: {resp.status_code} {resp.text[:300]}")

    async def _open(self, c: _Course, kind: str, within: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            resp = await self.http.get(
                self._scheduling(f"/courses/{c.course_id}/appointments"), headers=self.stack.auth()
            )
            if resp.status_code == 200:
                found = [a for a in resp.json() if a["kind"] == kind and a["status"] == "scheduled"]
                if found:
                    return dict(found[0])
            await asyncio.sleep(0.2)
        raise StepFailed(f"no scheduled {kind} appointment for course {c.n} within {within}s")

    async def _request(self, c: _Course) -> None:
        email = f"course-{c.n}.{self.stack.prefix.rstrip('.')}@example.org"
        out = await self._post(
            self._intake("/consultation-requests"), consultation_request(email, c.n), (202,)
        )
        c.course_id = out["course_id"]
        c.consultation = await self._open(c, "consultation")

    async def _prepare(self, c: _Course) -> None:
        cid = c.course_id
        await self._post(self._intake(f"/courses/{cid}/screening"), SCREENING)
        decision = {"outcome": "eligible", "route": "iv"}
        await self._post(self._intake(f"/courses/{cid}/eligibility"), decision)
        for path, body in IV_PREPARATION:
            await self._post(self._intake(f"/courses/{cid}/preparation{path}"), body)
        c.dosing = await self._open(c, "dosing")

    async def run(self) -> CourseResult:
        tap = _Tap(self.stack)
        await tap.start()
        started = time.monotonic()
        try:
            await asyncio.gather(*(self._request(c) for c in self.courses))
            for c in sorted(self.courses, key=lambda c: _at(c.consultation)):
                assert c.consultation is not None
                self._clock().jump_to(_at(c.consultation))
                url = self._scheduling(f"/appointments/{c.consultation['id']}")
                await self._post(f"{url}/check-in", {})
                await self._post(f"{url}/complete", {})
            await asyncio.gather(*(self._prepare(c) for c in self.courses))
            await self._dose_all()
            expected = {c.session_id for c in self.courses}
            await tap.wait_for(expected, within=60)
        finally:
            seconds = time.monotonic() - started
            await tap.stop()
        return self._result(tap, seconds)

    async def _dose_all(self) -> None:
        """Check-in + administration at each dosing start, discharge when monitoring ends; all in
        service-time order so that no appointment is passed by."""
        agenda: list[tuple[datetime, int, _Course]] = [(_at(c.dosing), 0, c) for c in self.courses]
        while agenda:
            agenda.sort(key=lambda item: (item[0], item[1]))
            when, step, c = agenda.pop(0)
            self._clock().jump_to(when)
            assert c.dosing is not None
            url = self._scheduling(f"/appointments/{c.dosing['id']}")
            if step == 0:
                await self._post(f"{url}/check-in", DOSING_CHECK_IN)
                given = await self._post(f"{url}/administration", {"dose_mg": 35.0})
                until = datetime.fromisoformat(given["monitoring_until"]) + timedelta(seconds=1)
                agenda.append((until, 1, c))
            else:
                offset = self._clock().offset
                out = await self._post(f"{url}/session", DISCHARGE)
                c.session_id = str(out["session_id"])
                due = datetime.fromisoformat(out["integration_window"]["due_at"])
                c.due_wall = due.timestamp() - offset

    def _result(self, tap: _Tap, seconds: float) -> CourseResult:
        lateness, gaps = [], []
        for c in self.courses:
            due = tap.integration_due.get(c.session_id, [])
            if due and c.due_wall is not None:
                lateness.append(due[0] - c.due_wall)
            administered = tap.administered.get(c.session_id)
            if due and administered is not None:
                gaps.append(due[0] - administered)
        return CourseResult(
            courses=len(self.courses),
            steps=self.steps,
            seconds=seconds,
            lateness=Summary.of(lateness),
            session_to_due=Summary.of(gaps),
            integration_due_events=sum(len(v) for v in tap.integration_due.values()),
            duplicates=sum(len(v) - 1 for v in tap.integration_due.values() if len(v) > 1),
        )


def _at(appointment: dict[str, Any] | None) -> datetime:
    assert appointment is not None
    return datetime.fromisoformat(appointment["starts_at"])


class _Tap(Tap):
    """SessionAdministered and IntegrationDue on the scheduling topic, with their Kafka timestamps."""

    def __init__(self, stack: BenchStack) -> None:
        super().__init__(stack, topics.SCHEDULING, "bench-tap", poll_ms=200)
        self.stack = stack
        self.administered: dict[str, float] = {}
        self.integration_due: dict[str, list[float]] = {}

    def _take(self, r: ConsumerRecord[bytes, bytes]) -> None:
        kind = dict(r.headers).get("ce_type", b"").decode()
        if kind.endswith(".SessionAdministered.v1"):
            self.administered[json.loads(r.value)["session_id"]] = r.timestamp / 1000
        elif kind.endswith(".IntegrationDue.v1"):
            sid = json.loads(r.value)["session_id"]
            self.integration_due.setdefault(sid, []).append(r.timestamp / 1000)

    async def wait_for(self, sessions: set[str], within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if sessions <= set(self.integration_due):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # a duplicate would arrive now
