"""Clinic administration on real processes: an admin closes the day a dose is booked on, through one
scheduling replica; the dose moves (AppointmentRescheduled on Kafka), ClosureAdded is published,
and the other replica has the closure in force without a restart. Only admins may do it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_tools.stack import ServiceProcess, free_port
from tests.conftest import RUN_ROOT
from tests.support.course import CourseDriver, course_stack
from tests.support.infra import Infra
from tests.support.stack import wait_for

ZONE = load_clinic(DEFAULT_CLINIC).time_zone


@pytest.fixture
async def course(infra: Infra) -> AsyncIterator[CourseDriver]:
    async with course_stack(infra, RUN_ROOT, "intake", "scheduling") as driver:
        yield driver


def second_scheduling(course: CourseDriver) -> tuple[ServiceProcess, str]:
    """Another scheduling process on the same database and topics; its base URL."""
    cfg = course.stack.cfg
    port = free_port()
    cfg = replace(cfg, run_dir=cfg.run_dir / "replica2", ports={**cfg.ports, "scheduling": port})
    proc = ServiceProcess(cfg, "scheduling").start()
    proc.wait_ready()
    return proc, cfg.url("scheduling")


async def test_a_closure_moves_the_dose_and_every_replica_has_it_at_once(course: CourseDriver) -> None:
    course.start_on("mon", ZONE)
    await course.prepared("iv")
    dose = await course.open_appointment("dosing")
    day = datetime.fromisoformat(dose["starts_at"]).astimezone(ZoneInfo(ZONE)).date()
    replica, other = second_scheduling(course)
    try:
        admin = course.stack.auth_headers("admin")
        async with httpx.AsyncClient(timeout=30) as http:
            closure = {"day": day.isoformat(), "label": "holiday"}
            refused = await http.post(
                f"{other}/v1/admin/closures", json=closure, headers=course.stack.auth_headers()
            )
            assert refused.status_code == 403
            r = await http.post(f"{other}/v1/admin/closures", json=closure, headers=admin)
            assert r.status_code == 201, r.text
            [moved] = r.json()["affected"]
            assert (moved["appointment_id"], moved["outcome"]) == (dose["id"], "moved")

            async def first_has_it() -> bool:
                seen = await http.get(course.scheduling("/admin/clinic"), headers=admin)
                return day.isoformat() in seen.json()["closures"]

            await wait_for(first_has_it, within=10, interval=0.2)  # the NOTIFY, not the 30 s poll
        [event] = await course.wait("AppointmentRescheduled", appointment_id=dose["id"])
        assert datetime.fromisoformat(event.data["starts_at"]).astimezone(ZoneInfo(ZONE)).date() > day
        [added] = await course.tap.wait(lambda e: e.type == "ClosureAdded" and e.key == "main")
        assert (added.data["day"], added.data["moved"]) == (day.isoformat(), 1)
    finally:
        replica.terminate()
