"""Restarting scheduling with durable timers pending: each fires exactly once, late only by the
time the service was down plus a few seconds (kill -9 and SIGTERM)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from katflow_shared.contracts import topics
from tests.conftest import RUN_ROOT
from tests.support.course import (
    CourseDriver,
    course_stack,
    discharge,
    dose_with_integration_cancelled,
    dosing_check_in,
    first_copies,
    names,
)
from tests.support.infra import Infra

A_FEW_SECONDS = timedelta(seconds=3)


@pytest.fixture
async def course(infra: Infra) -> AsyncIterator[CourseDriver]:
    async with course_stack(infra, RUN_ROOT, "intake", "scheduling") as driver:
        yield driver


async def timer(course: CourseDriver, key_suffix: str) -> tuple[datetime, str, datetime | None]:
    rows = await course.stack.fetch(
        "scheduling",
        "SELECT due_at, status, fired_at FROM timers WHERE key LIKE $1",
        f"course:{course.course_id}:%{key_suffix}",
    )
    assert len(rows) == 1, rows  # one row per timer: never a duplicate
    return rows[0]["due_at"], rows[0]["status"], rows[0]["fired_at"]


async def restart(course: CourseDriver, how: str) -> float:
    """Stop scheduling (kill -9 or SIGTERM) and start it again; return when it was ready (monotonic)."""
    service = course.stack.services["scheduling"]
    if how == "kill":
        service.kill()
    else:
        assert await asyncio.to_thread(service.terminate, 30) in (0, -15)
    await asyncio.sleep(2)  # down for a while: timers come due meanwhile
    await asyncio.to_thread(course.stack.start, "scheduling")
    return time.monotonic()


async def test_pending_timers_survive_restarts_and_fire_once(course: CourseDriver) -> None:
    course.start_on("mon", "America/New_York")  # the clinic's zone; a fixed day, not the real date
    protocol = await course.prepared("iv")
    appt = await course.open_appointment("dosing")
    course.clock.jump_to(datetime.fromisoformat(appt["starts_at"]))
    url = course.scheduling(f"/appointments/{appt['id']}")
    await course.post(f"{url}/check-in", dosing_check_in())
    await course.post(f"{url}/administration", {"dose_mg": 35.0})

    # 1. kill -9 just before the +40 min prompt is due: it fires after the restart, once
    bp_due, status, _ = await timer(course, ":blood_pressure")
    assert status == "pending"
    course.clock.jump_to(bp_due - timedelta(seconds=1))
    came_due = time.monotonic() + 1
    ready = await restart(course, "kill")
    await course.wait("MonitoringCheckDue", check="blood_pressure")
    _, status, fired_at = await timer(course, ":blood_pressure")
    assert status == "fired" and fired_at is not None
    assert fired_at - bp_due <= timedelta(seconds=ready - came_due) + A_FEW_SECONDS

    # 2. SIGTERM with the discharge prompt still ahead: after the restart it fires on time
    discharge_due, _, _ = await timer(course, ":discharge")
    await restart(course, "sigterm")
    course.clock.jump_to(discharge_due)
    await course.wait("MonitoringCheckDue", check="discharge")
    _, status, fired_at = await timer(course, ":discharge")
    assert status == "fired" and fired_at is not None and fired_at - discharge_due <= A_FEW_SECONDS

    # 3. the integration is cancelled; kill -9 with IntegrationOverdue three days ahead; it fires once
    await course.post(f"{url}/session", discharge())
    await course.wait("IntegrationDue", dose_number=1)
    integration = await course.open_appointment("integration")
    cancel = {"reason": "patient_request"}
    await course.post(course.scheduling(f"/appointments/{integration['id']}/cancel"), cancel)
    overdue_due, status, _ = await timer(course, ":integration_overdue")
    assert status == "pending"
    await restart(course, "kill")
    course.clock.jump_to(overdue_due)
    await course.wait("IntegrationOverdue", dose_number=1)
    _, status, fired_at = await timer(course, ":integration_overdue")
    assert status == "fired" and fired_at is not None and fired_at - overdue_due <= A_FEW_SECONDS

    # each event once (by ce_id: a kill -9 between publishing and marking republishes a row with its
    # id), in order, despite two kills and a SIGTERM; a timer firing twice would be a second id
    await asyncio.sleep(2)
    assert names(first_copies(course.tap.of(course.course_id, topics.SCHEDULING))) == [
        "AppointmentScheduled:consultation",
        "AppointmentCompleted:consultation",
        *dose_with_integration_cancelled(protocol),
    ]
    assert datetime.now(UTC) < course.clock.now()  # service time ran ahead of the wall clock throughout
