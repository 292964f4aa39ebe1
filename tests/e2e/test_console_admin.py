"""Clinic administration in the staff console, in a real browser (chromium driven by Playwright)
against the real stack and Keycloak's own login page (issue 30). An admin gives the clinician of a
booked dose time off on its day (the console says the dose went to another clinician or moved, and
scheduling agrees), closes the next bookable day (the dose booked there moves, the patient is told,
and the next booking lands elsewhere), changes a clinician's qualifications and hours, is refused
(in words, beside the field) a day with one time and opening hours that close before they open, adds
a room with a capability, reads the protocol versions, opens the day again and withdraws the time
off; a clinician is refused every admin page. axe-core finds nothing serious on the admin pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.settings import DEFAULT_CLINIC
from tests.conftest import RUN_ROOT
from tests.e2e.test_protocol_activation import protocols_with_iv_2
from tests.support.console import (
    browser,
    console_course,
    logged_in,
    screenshot,
    serious_accessibility_violations,
)
from tests.support.course import CourseDriver
from tests.support.infra import Infra

CLINIC = load_clinic(DEFAULT_CLINIC)
CLINIC_ZONE = ZoneInfo(CLINIC.time_zone)
ADMIN_PAGES = ("/admin/clinic", "/admin/clinicians", "/admin/clinicians/clin-1", "/admin/rooms")
ADMIN_PAGES += ("/admin/protocols", "/admin/protocols/intranasal@1")


@pytest.fixture
async def course(infra: Infra, tmp_path: Path) -> AsyncIterator[CourseDriver]:
    """The shipped protocol files with an iv@2 waiting for activation."""
    protocols = str(protocols_with_iv_2(tmp_path / "protocols"))
    async with console_course(infra, RUN_ROOT, KATFLOW_PROTOCOLS_DIR=protocols) as driver:
        yield driver


def local_day(at: str) -> date:
    return datetime.fromisoformat(at).astimezone(CLINIC_ZONE).date()


def next_bookable_day(now: datetime) -> date:
    """The first day a booking made now may land on: the booking lead ahead, an opening day."""
    day = (now + timedelta(hours=CLINIC.booking_lead_hours)).astimezone(CLINIC_ZONE).date()
    while ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day.weekday()] not in CLINIC.opening_hours:
        day += timedelta(days=1)
    return day


async def appointment(course: CourseDriver, appointment_id: str) -> dict[str, object]:
    [found] = [a for a in await course.appointments() if a["id"] == appointment_id]
    return found


async def the_patient_is_told_of_the_move(course: CourseDriver, appointment_id: str) -> None:
    await course.wait("AppointmentRescheduled", appointment_id=appointment_id)
    wanted = {"patient:appointment_rescheduled": 1}
    got = await course.deliveries_at_least(wanted)
    assert got["patient:appointment_rescheduled"] >= 1, got


async def give_time_off(course: CourseDriver, page: Page, dose: dict[str, str]) -> None:
    """The dose's clinician away on its day: given to another clinician at its time, or moved."""
    clinician, day = dose["clinician_id"], local_day(dose["starts_at"])
    await (
        page.get_by_role("navigation", name="Clinic administration")
        .get_by_role("link", name="Clinicians")
        .click()
    )
    await expect(page.locator(f'tr[data-clinician="{clinician}"]')).to_contain_text("dosing")
    assert await serious_accessibility_violations(page) == [], "clinicians"
    await page.locator(f'tr[data-clinician="{clinician}"]').get_by_role("link").click()
    await page.get_by_label("First day away").fill(day.isoformat())
    await page.get_by_label("Last day away").fill(day.isoformat())
    await page.get_by_role("button", name="Add time off").click()
    said = page.locator("#outcome-sentence")
    await expect(said).to_contain_text(f"Time off added for {clinician}")
    await expect(said).to_contain_text(
        re.compile(r"1 appointment (moved to a later time|given to another clinician)")
    )
    await expect(page.locator("#time-off")).to_contain_text(day.isoformat())
    await screenshot(page, "clinic-admin")
    after = await appointment(course, dose["id"])
    assert (after["clinician_id"], after["starts_at"]) != (clinician, dose["starts_at"]), after
    if after["starts_at"] != dose["starts_at"]:  # moved: the patient is told
        await expect(said).to_contain_text("1 appointment moved to a later time (the patient is told)")
        await the_patient_is_told_of_the_move(course, dose["id"])
    else:
        await expect(said).to_contain_text("1 appointment given to another clinician")
        await expect(page.locator(f'#affected tr[data-appointment="{dose["id"]}"]')).to_contain_text(
            str(after["clinician_id"])
        )


async def close_a_day(course: CourseDriver, page: Page, closed: date) -> None:
    """A closure: the page says what it did to the bookings on that day; what is there moves."""
    booked = [a for a in await course.appointments() if local_day(a["starts_at"]) == closed]
    assert booked, "the dose is booked on the next bookable day"
    await (
        page.get_by_role("navigation", name="Clinic administration")
        .get_by_role("link", name="Opening hours and closures")
        .click()
    )
    assert await serious_accessibility_violations(page) == [], "clinic"
    await page.get_by_label("Closed day").fill(closed.isoformat())
    await page.get_by_label("Label (e.g. a holiday's name)").fill("Staff training")
    await page.get_by_role("button", name="Close that day").click()
    said = page.locator("#outcome-sentence")
    await expect(said).to_contain_text(f"Closed {closed.strftime('%a %d %b %Y')} (Staff training)")
    moved = len(booked)
    words = f"{moved} appointment{'s' if moved != 1 else ''} moved to a later time"
    await expect(said).to_contain_text(words)
    await expect(said).to_contain_text("0 appointments displaced")
    await expect(page.locator(f'#closures tr[data-day="{closed.isoformat()}"]')).to_contain_text(
        "Staff training"
    )
    for a in booked:
        assert local_day(str((await appointment(course, a["id"]))["starts_at"])) != closed
        await the_patient_is_told_of_the_move(course, a["id"])
    # closing it twice is scheduling's refusal, shown beside the field
    await page.get_by_label("Closed day").fill(closed.isoformat())
    await page.get_by_role("button", name="Close that day").click()
    await expect(page.locator("#day-refusal")).to_have_text("The clinic is closed that day already.")


async def edit_a_clinician_and_the_opening_hours(page: Page) -> None:
    """A clinician's qualifications changed (the list shows them); a day with one of its two times
    is the console's refusal, a closing before an opening scheduling's: each a sentence by the field."""
    await (
        page.get_by_role("navigation", name="Clinic administration")
        .get_by_role("link", name="Clinicians")
        .click()
    )
    await page.locator('tr[data-clinician="clin-3"]').get_by_role("link").click()
    await page.get_by_label(
        "Qualifications (separated by spaces or commas, e.g. iv_certified rems_trained)"
    ).fill("rems_trained, iv_certified")
    await page.get_by_label("Monday from").fill("10:00")
    await page.get_by_role("button", name="Save clin-3").click()
    await expect(page.locator("#hours-refusal")).to_have_text("Monday: give both times, or neither.")
    assert await serious_accessibility_violations(page) == [], "clinician with a refusal"
    await page.get_by_label("Monday to").fill("15:00")
    await page.get_by_role("button", name="Save clin-3").click()
    await expect(page.locator("#outcome-sentence")).to_contain_text("clin-3 saved: 0 appointments moved")
    await (
        page.get_by_role("navigation", name="Clinic administration")
        .get_by_role("link", name="Clinicians")
        .click()
    )
    row = page.locator('tr[data-clinician="clin-3"]')
    await expect(row).to_contain_text("rems_trained, iv_certified")
    await expect(row).to_contain_text("Mon 10:00–15:00")
    await (
        page.get_by_role("navigation", name="Clinic administration")
        .get_by_role("link", name="Opening hours and closures")
        .click()
    )
    await page.get_by_label("Saturday from").fill("17:00")
    await page.get_by_label("Saturday to").fill("09:00")
    await page.get_by_role("button", name="Save opening hours").click()
    await expect(page.locator("#opening_hours-refusal")).to_contain_text("opening must be before closing")
    await expect(page.get_by_label("Saturday from")).to_have_value("17:00")  # kept in the form


async def add_a_room(page: Page) -> None:
    await (
        page.get_by_role("navigation", name="Clinic administration").get_by_role("link", name="Rooms").click()
    )
    await page.get_by_label("Room id (letters, digits, - and _)").fill("room-9")
    await page.get_by_label("Display name", exact=True).fill("Infusion suite")
    await page.get_by_label("Capabilities", exact=True).fill("iv_pump recliner")
    await page.get_by_role("button", name="Add room").click()
    await expect(page.locator("#outcome-sentence")).to_have_text("Room room-9 added.")
    row = page.locator('#rooms tr[data-room="room-9"]')
    await expect(row.get_by_label("Display name of room-9")).to_have_value("Infusion suite")
    await expect(row.get_by_label("Capabilities of room-9")).to_have_value("iv_pump recliner")
    # a capability scheduling refuses (not a name): its sentence beside the room's fields
    await row.get_by_label("Capabilities of room-9").fill("IV Pump!")
    await row.get_by_role("button", name="Save room-9").click()
    await expect(page.locator("#room-room-9-refusal")).to_contain_text("String should match pattern")
    assert await serious_accessibility_violations(page) == [], "rooms with a refusal"


async def read_the_protocols(page: Page) -> None:
    await (
        page.get_by_role("navigation", name="Clinic administration")
        .get_by_role("link", name="Protocols")
        .click()
    )
    # iv@2 is on file and waits; activating it changes what new IV courses get (intake pins it)
    table = page.locator("#protocols")
    await expect(table.locator('tr[data-protocol="iv@1"]')).to_contain_text("active")
    await table.get_by_role("button", name="Activate iv@2").click()
    await expect(page.locator("#outcome-sentence")).to_have_text(
        "New iv courses now get iv@2 (before: iv@1); pinned courses keep theirs."
    )
    await expect(table.get_by_role("button", name="Activate iv@1")).to_be_visible()
    await expect(table.locator('tr[data-protocol="iv@2"]')).to_contain_text("active")
    assert await serious_accessibility_violations(page) == [], "protocols after an activation"
    await page.locator('#protocols tr[data-protocol="intranasal@1"]').get_by_role("link").click()
    await expect(page.get_by_role("heading", name="Protocol intranasal@1")).to_be_visible()
    await expect(page.locator("#protocol-text")).to_contain_text('"monitoring_minutes": 120')
    assert await serious_accessibility_violations(page) == [], "protocol"


async def open_again_and_withdraw(page: Page, console: str, closed: date, dose: dict[str, str]) -> None:
    """Removals: the closed day opened again, the clinician's time off withdrawn."""
    await page.goto(f"{console}/admin/clinic")
    await page.get_by_role("button", name=f"Open {closed.isoformat()} again").click()
    await expect(page.locator("#outcome-sentence")).to_contain_text("is open again")
    await expect(page.locator(f'#closures tr[data-day="{closed.isoformat()}"]')).to_have_count(0)
    day = local_day(dose["starts_at"]).isoformat()
    await page.goto(f"{console}/admin/clinicians/{dose['clinician_id']}")
    await page.get_by_role("button", name=f"Withdraw time off {day} to {day}").click()
    await expect(page.locator("#outcome-sentence")).to_contain_text("Time off withdrawn")
    await expect(page.locator("#time-off")).to_contain_text("No time off.")


async def test_an_admin_gives_time_off_closes_a_day_and_adds_a_room(course: CourseDriver) -> None:
    console = course.stack.url("console")
    course.start_on("wed", CLINIC_ZONE.key)
    await course.prepared("intranasal")
    dose = await course.open_appointment("dosing")

    async with browser() as b:
        context, page = await logged_in(b, console, "admin-1")
        await page.get_by_role("link", name="Clinic", exact=True).click()
        await expect(page.get_by_role("heading", name="Clinic administration")).to_be_visible()
        await give_time_off(course, page, dose)

        # the next bookable day closed: what is booked there moves, the next booking goes elsewhere
        closed = next_bookable_day(course.clock.now())
        await close_a_day(course, page, closed)
        first_course = course.course_id
        await course.request("intranasal", n=1)
        booked = await course.open_appointment("consultation")
        assert local_day(booked["starts_at"]) != closed, booked
        for course_id in (first_course, course.course_id):
            resp = await course.http.get(course.scheduling(f"/courses/{course_id}/appointments"))
            assert all(local_day(a["starts_at"]) != closed for a in resp.json()), resp.text

        await edit_a_clinician_and_the_opening_hours(page)
        await add_a_room(page)
        await read_the_protocols(page)
        await open_again_and_withdraw(page, console, closed, dose)
        await context.close()

        # a clinician: no Clinic link, and every admin page refused
        context, page = await logged_in(b, console, "clin-1")
        await expect(page.get_by_role("link", name="Clinic", exact=True)).to_have_count(0)
        for path in ADMIN_PAGES:
            assert (await page.request.get(f"{console}{path}")).status == 403, path
        posted = await page.request.post(f"{console}/admin/closures", form={"day": "2030-01-02"})
        assert posted.status == 403, await posted.text()
        await context.close()
