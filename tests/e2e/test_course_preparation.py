"""PreparationCompleted is emitted exactly once, however the checklist steps arrive: all at once,
repeated, concurrently. Scheduling then books exactly one first dose."""

from __future__ import annotations

import asyncio

import pytest

from katflow_shared.treatment_protocols import load_protocols
from tests.support.course import CourseDriver

IV = load_protocols().get("iv@1")


@pytest.fixture
def course_services() -> tuple[str, ...]:
    return ("intake", "scheduling")


async def test_concurrent_and_repeated_checklist_steps_complete_preparation_once(
    course: CourseDriver,
) -> None:
    await course.request("iv")
    await course.screen_and_decide("iv")
    base = f"/courses/{course.course_id}/preparation"
    steps = [
        ("/sessions", {"held_on": "2026-01-05", "clinician_id": "ther-1"}),
        (
            "/consent",
            {"document_version": IV.preparation.consent_document, "signed": True},
        ),
        ("/intention", {"recorded": True}),
        ("/baseline", {"phq9": 19, "gad7": 12}),
        ("/ride-home", {"arranged": True}),
    ]
    answers = await asyncio.gather(*(course.post(course.intake(base + p), b) for p, b in steps * 3))
    assert any(a["prepared"] for a in answers)
    await course.wait("PreparationCompleted")
    await course.open_appointment("dosing")
    await asyncio.sleep(2)  # anything extra would have arrived by now
    assert sum(e.type == "PreparationCompleted" for e in course.tap.of(course.course_id)) == 1
    dosing = [a for a in await course.appointments() if a["kind"] == "dosing"]
    assert len(dosing) == 1
    status = (await course.http.get(course.intake(f"/courses/{course.course_id}"))).json()
    assert status["phase"] == "prepared" and status["missing"] == [] and status["sessions_held"] == 3
