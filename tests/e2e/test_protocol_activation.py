"""Protocol versions (issue 30): a new version on file waits for an admin's activation; once
activated it applies to courses pinned after it, and a course pinned before keeps its version
through preparation (PreparationCompleted names it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from katflow_shared.treatment_protocols import load_protocols
from katflow_tools.time_machine import TimeMachine
from tests.conftest import RUN_ROOT
from tests.support.course import CourseDriver, EventTap, protocols_with_iv_2, screening
from tests.support.infra import Infra
from tests.support.stack import Stack, make_stack

ACTIVATE = "/admin/protocols/iv@2/activate"


@pytest.fixture
async def drivers(infra: Infra, tmp_path: Path) -> AsyncIterator[tuple[CourseDriver, CourseDriver]]:
    clock = TimeMachine(RUN_ROOT / f"clock-{uuid.uuid4().hex}.txt")
    folder = protocols_with_iv_2(tmp_path / "protocols")
    stack: Stack = await make_stack(
        infra, RUN_ROOT, KATFLOW_CLOCK_OFFSET_FILE=str(clock.path), KATFLOW_PROTOCOLS_DIR=str(folder)
    )
    try:
        stack.start()
        tap = await EventTap(stack).start()
        try:
            async with httpx.AsyncClient(timeout=30, headers=stack.auth_headers("staff")) as http:
                yield CourseDriver(stack, http, tap, clock), CourseDriver(stack, http, tap, clock)
        finally:
            await tap.stop()
    finally:
        stack.stop()


async def eligible_for_iv(course: CourseDriver, n: int) -> str:
    """Request → consultation → screening → eligible for IV; the protocol version it was pinned to."""
    await course.request("iv", n)
    await course.attend_consultation()
    await course.post(course.intake(f"/courses/{course.course_id}/screening"), screening(), 201)
    decision = {"outcome": "eligible", "route": "iv"}
    out = await course.post(course.intake(f"/courses/{course.course_id}/eligibility"), decision)
    return str(out["protocol_version"])


async def test_an_activated_protocol_version_applies_to_new_courses_only(
    drivers: tuple[CourseDriver, CourseDriver],
) -> None:
    before, after = drivers
    stack, http = before.stack, before.http
    before.start_on("tue", "America/New_York")
    admin = stack.auth_headers("admin")
    listing = before.intake("/admin/protocols")

    # on file but not active: new courses still get iv@1
    versions = (await http.get(listing, headers=admin)).json()
    assert {(v["id"], v["active"]) for v in versions if v["route"] == "iv"} == {
        ("iv@1", True),
        ("iv@2", False),
    }
    assert await eligible_for_iv(before, 0) == "iv@1"

    # only an admin activates; a version not on file is 404
    assert (
        await http.post(before.intake(ACTIVATE), headers=stack.auth_headers("clinician"))
    ).status_code == 403
    assert (
        await http.post(before.intake("/admin/protocols/iv@9/activate"), headers=admin)
    ).status_code == 404
    activated = await http.post(before.intake(ACTIVATE), headers=admin)
    assert activated.status_code == 200, activated.text
    assert activated.json()["previous_version"] == "iv@1"
    again = await http.post(before.intake(ACTIVATE), headers=admin)
    assert (again.status_code, again.json()["detail"][0]["type"]) == (409, "already_active")
    [event] = await before.tap.wait(lambda e: e.type == "ProtocolVersionActivated")
    assert (event.key, event.data["protocol_version"], event.data["previous_version"]) == (
        "iv",
        "iv@2",
        "iv@1",
    )
    assert {
        (v["id"], v["active"]) for v in (await http.get(listing, headers=admin)).json() if v["route"] == "iv"
    } == {
        ("iv@1", False),
        ("iv@2", True),
    }

    # a new course gets iv@2; the course pinned before keeps iv@1, through its preparation too
    assert await eligible_for_iv(after, 1) == "iv@2"
    iv1 = load_protocols().get("iv@1").preparation
    await before.prepare(iv1.consent_document, iv1.sessions_required, iv1.rems_enrollment_required)
    [done] = await before.wait("PreparationCompleted")
    assert done.data["protocol_version"] == "iv@1"
    audited = await stack.fetchval(
        "intake",
        "SELECT actor FROM audit_log WHERE action = 'POST /v1/admin/protocols/{protocol_id}/activate'"
        " AND status = 200",
    )
    assert audited == "admin-1"
