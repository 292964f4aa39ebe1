"""Every action is the caller's (issue 27, finding 4): who acts comes from the credential, never
from the body; a feed is its owner's.

Before, ``administered_by``, ``completed_by``, ``screened_by``... were whatever the body said, so a
clinician could act in a colleague's name, and any care-team key read and marked anyone's feed.
Here each service refuses a body that names an actor (422 naming the field), the records name the
caller's subject (a staff id: the test keys of tests/support/stack.py are clin-1, ther-1, admin-1),
and a colleague's feed is 403 while an admin's read of it is audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.treatment_protocols import load_protocols
from tests.support.course import CourseDriver, discharge, dosing_check_in, screening

CLINIC_ZONE = load_clinic(DEFAULT_CLINIC).time_zone
PROTOCOL = load_protocols().get("iv@1")


def named_actor(resp: httpx.Response, field: str) -> None:
    """A 422 whose one error is the actor field the body should not have had."""
    assert resp.status_code == 422, resp.text
    assert [(e["loc"], e["type"]) for e in resp.json()["detail"]] == [(["body", field], "extra_forbidden")]


async def rows(course: CourseDriver, service: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = await course.stack.db(service)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def test_actions_are_the_callers_and_a_body_naming_an_actor_is_refused(course: CourseDriver) -> None:
    course.start_on("mon", CLINIC_ZONE)
    http, stack = course.http, course.stack
    therapist = stack.auth_headers("therapist")  # ther-1; the course's own key is clin-1
    await course.request("iv")
    await course.attend_consultation()
    courses = course.intake(f"/courses/{course.course_id}")
    named_actor(await http.post(f"{courses}/screening", json=screening(screened_by="clin-2")), "screened_by")
    await course.screen_and_decide("iv")
    eligible = {"outcome": "eligible", "route": "iv", "decided_by": "clin-2"}
    named_actor(await http.post(f"{courses}/eligibility", json=eligible), "decided_by")
    p = PROTOCOL.preparation
    await course.prepare(p.consent_document, p.sessions_required, p.rems_enrollment_required)
    await course.wait("PreparationCompleted")

    appt = await course.open_appointment("dosing")
    course.clock.jump_to(datetime.fromisoformat(appt["starts_at"]))
    url = course.scheduling(f"/appointments/{appt['id']}")
    await course.post(f"{url}/check-in", dosing_check_in())
    named_actor(
        await http.post(f"{url}/administration", json={"dose_mg": 35, "administered_by": "clin-2"}),
        "administered_by",
    )
    await course.post(f"{url}/administration", {"dose_mg": 35.0})
    course.clock.jump_to(
        course.clock.now() + timedelta(minutes=PROTOCOL.dosing.monitoring_minutes, seconds=1)
    )
    named_actor(
        await http.post(f"{url}/session", json={**discharge(), "discharged_by": "clin-2"}), "discharged_by"
    )
    await course.post(f"{url}/session", discharge())
    await course.wait("SessionAdministered")

    integration = await course.open_appointment("integration")
    course.clock.jump_to(datetime.fromisoformat(integration["starts_at"]))
    i_url = course.scheduling(f"/appointments/{integration['id']}")
    assert (await http.post(f"{i_url}/check-in", json={}, headers=therapist)).status_code == 200
    named_actor(
        await http.post(f"{i_url}/complete", json={"completed_by": "clin-1"}, headers=therapist),
        "completed_by",
    )
    assert (await http.post(f"{i_url}/complete", headers=therapist)).status_code == 200  # no body at all

    record = (await http.get(course.scheduling(f"/courses/{course.course_id}"))).json()
    assert [(s["administered_by"], s["discharged_by"]) for s in record["sessions"]] == [("clin-1", "clin-1")]
    closed = await rows(
        course,
        "scheduling",
        "SELECT kind, closed_by FROM appointments WHERE course_id = $1 AND status = 'completed'"
        " ORDER BY lower(during)",
        course.course_id,
    )
    assert closed == [("consultation", "clin-1"), ("dosing", "clin-1"), ("integration", "ther-1")]
    check_in = await rows(
        course,
        "scheduling",
        "SELECT check_in->>'checked_in_by' FROM appointments WHERE id = $1",
        integration["id"],
    )
    assert check_in == [("ther-1",)]
    audited = await rows(
        course,
        "scheduling",
        "SELECT actor, auth_method, status FROM audit_log WHERE action = $1"
        " AND resource->>'appointment_id' = $2 ORDER BY id",
        "POST /v1/appointments/{appointment_id}/complete",
        integration["id"],
    )
    assert audited == [("ther-1", "api_key", 422), ("ther-1", "api_key", 200)]
    intake = await rows(
        course,
        "intake",
        "SELECT (SELECT array_agg(screened_by) FROM screenings WHERE course_id = $1),"
        " (SELECT array_agg(decided_by) FROM eligibility_decisions WHERE course_id = $1),"
        " (SELECT array_agg(DISTINCT recorded_by) FROM preparation_items WHERE course_id = $1)",
        course.course_id,
    )
    assert intake == [(["clin-1"], ["clin-1"], ["clin-1"])]


async def test_a_feed_is_its_owners_an_admins_read_of_another_is_audited(course: CourseDriver) -> None:
    http, stack = course.http, course.stack
    feed = f"{stack.url('notifications')}/v1/staff/ther-1/feed"
    clinician, therapist, admin = (stack.auth_headers(r) for r in ("clinician", "therapist", "admin"))
    assert (await http.get(feed, headers=therapist)).status_code == 200
    assert (await http.get(feed, headers=clinician)).status_code == 403
    assert (await http.get(f"{feed}/stream", headers=clinician)).status_code == 403
    assert (await http.post(f"{feed}/1/read", headers=clinician)).status_code == 403
    assert (await http.get(feed, headers=admin)).status_code == 200
    assert (await http.post(f"{feed}/1/read", headers=admin)).status_code == 403  # reading, not marking
    audited = await rows(
        course,
        "notifications",
        "SELECT actor, action, resource->>'staff_id', status FROM audit_log WHERE action LIKE '% /v1/staff/%'"
        " ORDER BY id",
    )
    assert audited == [
        ("ther-1", "GET /v1/staff/{staff_id}/feed", "ther-1", 200),
        ("clin-1", "GET /v1/staff/{staff_id}/feed", "ther-1", 403),
        ("clin-1", "GET /v1/staff/{staff_id}/feed/stream", "ther-1", 403),
        ("clin-1", "POST /v1/staff/{staff_id}/feed/{item_id}/read", "ther-1", 403),
        ("admin-1", "GET /v1/staff/{staff_id}/feed", "ther-1", 200),
        ("admin-1", "POST /v1/staff/{staff_id}/feed/{item_id}/read", "ther-1", 403),
    ]
