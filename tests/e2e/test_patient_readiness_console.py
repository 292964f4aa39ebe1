"""Morning-of readiness from the patient's page to the staff console, in real browsers against the
whole stack (the four services, Kafka, PostgreSQL, Keycloak's login page): the patient opens the
link in their booking email, passes the date of birth, confirms the ride home and fasting on the
morning of the dose, and the clinician opening that dosing visit in the console sees it at check-in
(ReadinessConfirmed on katflow.notifications.v1, projected by the console)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.settings import DEFAULT_CLINIC
from tests.conftest import RUN_ROOT
from tests.support.console import browser, console_course, logged_in
from tests.support.course import CourseDriver
from tests.support.infra import Infra
from tests.support.stack import consultation_request, wait_for

pytestmark = pytest.mark.e2e

CLINIC_ZONE = ZoneInfo(load_clinic(DEFAULT_CLINIC).time_zone)
PATIENT = consultation_request(0)["patient"]


@pytest.fixture
async def course(infra: Infra) -> AsyncIterator[CourseDriver]:
    async with console_course(infra, RUN_ROOT) as driver:
        yield driver


async def test_the_patients_readiness_shows_at_check_in_in_the_console(course: CourseDriver) -> None:
    course.start_on("wed", CLINIC_ZONE.key)
    await course.prepared("intranasal")
    appt = await course.open_appointment("dosing")
    pattern = re.compile(re.escape(course.stack.url("notifications")) + r"/portal/p/[A-Za-z0-9_-]{32}")

    async def links() -> list[str]:
        found = []
        for m in course.stack.sink.messages():
            body = m.message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
            if PATIENT["email"] in m.rcpt_to and body is not None:
                found += pattern.findall(body.get_content())
        return found

    found = await wait_for(links, within=60)
    assert found, "no patient email with a page link"
    link = found[-1]
    course.clock.jump_to(datetime.fromisoformat(appt["starts_at"]) - timedelta(minutes=30))

    async with browser() as b:
        patient = await (await b.new_context()).new_page()
        await patient.goto(link)
        await patient.fill("#dob", PATIENT["date_of_birth"])
        await patient.click("button[type=submit]")
        ready = patient.locator("form.ready")
        await ready.locator("input[name=ride_home]").check()
        await ready.locator("input[name=fasting]").check()
        await ready.locator("button[type=submit]").click()
        await expect(patient.locator("#sent")).to_contain_text("when you check in")

        context, page = await logged_in(b, course.stack.url("console"), "clin-1")
        shown = page.locator("#patient-readiness")
        deadline = datetime.now() + timedelta(seconds=60)
        while True:
            await page.goto(f"{course.stack.url('console')}/visits/{appt['id']}")
            if await shown.count():
                break
            assert datetime.now() < deadline, await page.content()
            await page.wait_for_timeout(500)
        await expect(shown).to_contain_text("ride home arranged")
        await expect(shown).to_contain_text("fasting instruction followed")
        await context.close()
