"""An in-process scheduling service layer on its own real PostgreSQL database, with a FixedClock;
scheduling's own events are fed back to its handlers from the outbox, each in a unit of work caused by
the event, as its consumer would."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from katflow_scheduling.adapters.postgres_courses import ensure_course
from katflow_scheduling.domain.clinic import ClinicConfig, load_clinic
from katflow_scheduling.domain.visits import Dose, DosingCheckIn
from katflow_scheduling.entrypoints import timers
from katflow_scheduling.service_layer import visits
from katflow_scheduling.service_layer.clinics import Clinics
from katflow_scheduling.service_layer.course_events import CourseEvents
from katflow_scheduling.service_layer.deps import Deps
from katflow_scheduling.settings import DEFAULT_CLINIC, SchedulingSettings
from katflow_shared.clock import FixedClock
from katflow_shared.contracts import (
    REGISTRY,
    AppointmentCompleted,
    ConsultationRequested,
    Event,
    PreparationCompleted,
    SessionAdministered,
)
from katflow_shared.contracts.common import Route
from katflow_shared.db import create_pool, migrate
from katflow_shared.messaging import outbox
from katflow_shared.messaging.cloudevents import Envelope
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.runtime import Runtime
from katflow_shared.timers import CHANNEL, TimerWorker
from katflow_shared.treatment_protocols import load_protocols
from katflow_shared.unit_of_work import Units
from katflow_shared.wakeup import Announcer
from katflow_tools.databases import scratch_database
from tests.support.infra import Infra


def monday_noon_in_june(today: date) -> datetime:
    """12:00 UTC (08:00 in New York, 07:00 in Chicago) on the first Monday of June next year: the
    harness's start, whatever day the suite runs. Ahead of the real date, always: PostgreSQL judges
    "not ended yet" by its own now() (the calendar's freed-time trigger), so a test clock behind the
    real one sees freed time as past (a fixed date here made four tests fail once the real date
    passed it). And the same kind of day every year: a Monday, with months after it free of
    daylight-saving changes, of a year end and of a February (a start "a week from now" put the
    tests' days wherever the real date did)."""
    first = date(today.year + 1, 6, 1)
    return datetime.combine(first + timedelta(days=-first.weekday() % 7), time(12), tzinfo=UTC)


START = monday_noon_in_june(datetime.now(UTC).date())
STAFF = "clin-1"  # the test staff key's subject (tests.support.stack.SUBJECTS)


@dataclass
class Harness:
    pool: asyncpg.Pool
    clock: FixedClock
    runtime: Runtime
    deps: Deps
    units: Units
    course: CourseEvents
    worker: TimerWorker
    seen: int = 0
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def handle(self, event: Event) -> None:
        handlers: dict[type[Event], Any] = {
            ConsultationRequested: self.course.on_consultation_requested,
            PreparationCompleted: self.course.on_preparation_completed,
            SessionAdministered: self.course.on_session_administered,
            AppointmentCompleted: self.course.on_appointment_completed,
        }
        if (handler := handlers.get(type(event))) is not None:
            async with self.units.start(Envelope(event, "/test")) as uow:
                await handler(event, uow)

    async def pump(self) -> list[tuple[str, dict[str, Any]]]:
        """Read new outbox rows (what Kafka would carry); feed scheduling's own events back to it."""
        new: list[tuple[str, dict[str, Any]]] = []
        while rows := await self.pool.fetch(
            "SELECT id, headers, payload FROM outbox WHERE id > $1 ORDER BY id", self.seen
        ):
            for row in rows:
                self.seen = row["id"]
                kind = dict(json.loads(row["headers"]))["ce_type"]
                event = REGISTRY[kind].model_validate_json(bytes(row["payload"]))
                new.append((event.name, event.model_dump(mode="json")))
                await self.handle(event)
        self.events += new
        return new

    async def advance(self, delta: timedelta) -> list[tuple[str, dict[str, Any]]]:
        self.clock.advance(delta)
        while await self.worker.fire_due():
            pass
        return await self.pump()

    async def at(self, when: datetime) -> list[tuple[str, dict[str, Any]]]:
        return await self.advance(max(timedelta(0), when - self.clock.now()))

    async def timers(self, status: str = "pending") -> list[tuple[str, datetime]]:
        rows = await self.pool.fetch(
            "SELECT kind, due_at FROM timers WHERE status = $1 ORDER BY due_at, kind", status
        )
        return [(r["kind"], r["due_at"]) for r in rows]

    async def open(self, course_id: uuid.UUID, kind: str) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            "SELECT id, lower(during) AS starts_at FROM appointments WHERE course_id = $1 AND kind = $2"
            " AND status = 'scheduled' ORDER BY lower(during) LIMIT 1",
            course_id,
            kind,
        )
        assert row is not None, f"no scheduled {kind}"
        return row

    async def prepared_course(self, route: str = "iv") -> uuid.UUID:
        course_id, patient_id = uuid.uuid4(), uuid.uuid4()
        async with self.pool.acquire() as conn:
            await ensure_course(conn, course_id, patient_id, "America/Chicago")
        protocol = self.deps.protocols.current(Route(route))
        await self.handle(
            PreparationCompleted(
                course_id=course_id,
                patient_id=patient_id,
                route=protocol.route,
                protocol_version=protocol.id,
                patient_time_zone="America/Chicago",
                completed_at=self.clock.now(),
            )
        )
        await self.pump()
        return course_id

    async def give_dose(self, course_id: uuid.UUID) -> tuple[uuid.UUID, datetime]:
        appt = await self.open(course_id, "dosing")
        await self.at(appt["starts_at"])
        checks = {
            "blood_pressure": {"systolic": 120, "diastolic": 80},
            "ride_home_confirmed": True,
            "fasting_confirmed": True,
        }
        await visits.check_in(
            self.units,
            self.deps,
            appt["id"],
            DosingCheckIn.model_validate(checks),
            STAFF,
        )
        await visits.administer(self.units, self.deps, appt["id"], Dose(dose_mg=35), STAFF)
        return appt["id"], self.clock.now()


@contextlib.asynccontextmanager
async def harness(infra: Infra, clinic: ClinicConfig | None = None) -> AsyncIterator[Harness]:
    async with scratch_database(infra.pg_admin_dsn, "sched_it") as db:
        pool = await create_pool(db.dsn, 8)
        try:
            await migrate(pool, ["katflow_shared", "katflow_scheduling"])
            settings = SchedulingSettings(environment="test", database_url=db.dsn)
            clock = FixedClock(START)
            # the clinic file is the seed the database imports; from then on the clinic is data
            deps = Deps(Clinics(clinic or load_clinic(DEFAULT_CLINIC)), load_protocols(), clock)
            await deps.clinics.start(pool)
            timing = Announcer(CHANNEL)  # the worker's: what the units schedule wakes it in-process
            emitter = Emitter(settings, Announcer(outbox.CHANNEL))
            runtime = Runtime(settings, pool, None, emitter, clock, timing=timing)
            units = runtime.units
            worker = TimerWorker(runtime, timers.handlers(deps, units), announcer=timing)
            yield Harness(pool, clock, runtime, deps, units, CourseEvents(deps), worker)
        finally:
            await pool.close()


@pytest.fixture
async def h(infra: Infra) -> AsyncIterator[Harness]:
    async with harness(infra) as built:
        yield built
