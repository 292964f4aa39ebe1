"""Clinic administration on real processes: an admin closes the day a dose is booked on, through one
scheduling replica; the dose moves (AppointmentRescheduled on Kafka), ClosureAdded is published,
and the other replica has the closure in force without a restart. Only admins may do it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta
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
def course_services() -> tuple[str, ...]:
    return ("intake", "scheduling")


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


@pytest.fixture
async def notified(infra: Infra) -> AsyncIterator[CourseDriver]:
    async with course_stack(infra, RUN_ROOT, "intake", "scheduling", "notifications") as driver:
        yield driver


async def test_time_off_moves_the_dose_the_patient_is_told_and_what_cannot_move_alerts_staff(
    notified: CourseDriver,
) -> None:
    course = notified
    course.start_on("mon", ZONE)
    await course.prepared("iv")
    dose = await course.open_appointment("dosing")
    day = datetime.fromisoformat(dose["starts_at"]).astimezone(ZoneInfo(ZONE)).date()
    admin = course.stack.auth_headers("admin")
    away = course.scheduling("/admin/clinicians/{}/time-off")
    async with httpx.AsyncClient(timeout=30, headers=admin) as http:
        # both dosing clinicians away that day: nobody can take it at its time, so it moves
        one_day = {"first_day": day.isoformat(), "last_day": day.isoformat()}
        for clinician in ("clin-2", "clin-1"):
            r = await http.post(away.format(clinician), json=one_day)
            assert r.status_code == 201, r.text
        [event] = await course.wait("AppointmentRescheduled", appointment_id=dose["id"])
        moved_to = datetime.fromisoformat(event.data["starts_at"]).astimezone(ZoneInfo(ZONE)).date()
        assert moved_to > day
        # then away for months from that day: nothing inside the horizon, so staff are alerted
        months = {"first_day": moved_to.isoformat(), "last_day": (moved_to + timedelta(days=200)).isoformat()}
        for clinician in ("clin-2", "clin-1"):
            r = await http.post(away.format(clinician), json=months)
            assert r.status_code == 201, r.text
    [alert] = await course.wait("AppointmentDisplaced", appointment_id=dose["id"])
    assert alert.data["cause"] == "time_off"
    wanted = {"patient:appointment_rescheduled": 1, "staff:appointment_displaced": 1}
    got = await course.deliveries_at_least(wanted)
    assert all(got[k] >= n for k, n in wanted.items()), got
