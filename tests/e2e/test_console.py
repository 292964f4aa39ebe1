"""The staff console in a real browser (chromium driven by Playwright) against the real stack: the
services, Kafka, PostgreSQL and Keycloak's own login page. A clinician runs a dosing visit's
check-in (refused for high blood pressure, shown in words beside the field, then accepted; the
concomitant medications entered with it stay in the form and reach no event and no log), the
administration, the 40-minute blood pressure recorded from its prompt, and the discharge with when the
patient would have been ready to leave, finds the REMS monitoring form filled, watches a course's
timeline take a new event without reloading, acknowledges and resolves the urgent alert of an
integration left overdue, files the REMS form its alert asked for, and resumes a course a
high-risk screening halted; an intake coordinator sees no administration button, is refused when
they post it anyway, and logs out; an admin replays a dead letter from the Operations page. The
access token is refreshed when it expires. Each page's screenshot is written to docs/screenshots/,
after axe-core found no serious accessibility violation on it."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Locator, Page, expect

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts import ConsultationRequested, topics
from katflow_shared.treatment_protocols import load_protocols
from tests.conftest import RUN_ROOT
from tests.support.console import (
    ALL,
    browser,
    console_course,
    logged_in,
    screenshot,
    serious_accessibility_violations,
)
from tests.support.course import CourseDriver, screening
from tests.support.infra import Infra

PROTOCOL = load_protocols().get("intranasal@1")
CLINIC_ZONE = ZoneInfo(load_clinic(DEFAULT_CLINIC).time_zone)
MEDICATIONS = "Sertraline 50 mg daily; lisinopril 10 mg daily"  # clinical free text: the console's only


def hhmm(at: datetime) -> str:
    return at.astimezone(CLINIC_ZONE).strftime("%H:%M")


@pytest.fixture
async def course(infra: Infra) -> AsyncIterator[CourseDriver]:
    async with console_course(infra, RUN_ROOT, KATFLOW_CONSOLE_REMS_WATCH_SECONDS="1") as driver:
        yield driver


async def reload_until_shown(page: Page, shown: Locator, within: float = 60) -> Locator:
    """Reload the page until it shows ``shown``: it does once the console has read the event behind
    it (a page is a query); ``shown`` back."""
    deadline = datetime.now() + timedelta(seconds=within)
    while await shown.count() == 0:
        assert datetime.now() < deadline, await page.content()
        await page.wait_for_timeout(500)
        await page.reload()
    return shown


async def board_shows(page: Page, appointment_id: str) -> None:
    """Today's board lists the appointment."""
    await reload_until_shown(page, page.locator(f'tr[data-appointment="{appointment_id}"]'))


async def the_access_token_is_refreshed_when_it_expires(course: CourseDriver, page: Page) -> None:
    """A session whose access token has expired gets a new one from Keycloak (refresh token): the page
    still opens as the same person, without a login."""
    conn = await course.stack.db("console")
    try:
        expire = "UPDATE console_sessions SET access_expires_at = now() RETURNING access_token"
        before = await conn.fetchval(expire)
        await page.reload()
        await expect(page.locator("#staff-id")).to_have_text("clin-1")
        after = await conn.fetchval("SELECT access_token FROM console_sessions")
    finally:
        await conn.close()
    assert after != before


async def find_the_patient_and_look_at_the_waitlist(page: Page, course_id: str) -> None:
    await page.get_by_role("link", name="Patients").click()
    await page.get_by_label("Name (given or family, start of)").fill("family0")
    await page.get_by_label("Date of birth").fill("1980-02-03")
    await page.get_by_role("button", name="Search").click()
    found = page.locator("#patients")
    await expect(found).to_contain_text("Given0 Family0")
    link = found.get_by_role("link", name="course 1")
    await expect(link).to_have_attribute("href", f"/courses/{course_id}")
    await screenshot(page, "patients")
    await page.get_by_role("link", name="Waitlist").click()
    await expect(page.get_by_role("heading", name="Waitlist")).to_be_visible()
    await screenshot(page, "waitlist")


async def the_console_audited_who_saw_the_patient(course: CourseDriver) -> None:
    """Issue 27: the console's own pages (its read model holds names and dates of birth) recorded no
    reader. Each request is the signed-in person's; each page names the patients and courses it showed."""
    rows = await course.stack.fetch(
        "console",
        "SELECT actor, auth_method, action, course_id, patient_ids, course_ids FROM audit_log"
        " WHERE actor = 'clin-1' ORDER BY id",
    )
    patient, course_id = uuid.UUID(course.patient_id), uuid.UUID(course.course_id)
    saw = {r["action"] for r in rows if patient in (r["patient_ids"] or [])}
    assert {"GET /", "GET /courses/{course_id}", "GET /patients", "GET /visits/{appointment_id}"} <= saw, saw
    assert all(r["auth_method"] == "jwt" for r in rows)
    [course_page, *_] = [r for r in rows if r["action"] == "GET /courses/{course_id}"]
    assert course_page["course_id"] == course_id
    done = {r["action"] for r in rows}
    assert {"POST /visits/{appointment_id}/check-in", "POST /visits/{appointment_id}/administration"} <= done


async def poison(course: CourseDriver) -> None:
    """A record on the intake topic that is no event (invalid JSON): each consumer dead-letters it."""
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(uuid.uuid4()).encode()),
        ("ce_source", topics.producer_source(topics.INTAKE).encode()),
        ("ce_type", ConsultationRequested.event_type().encode()),
        ("content-type", b"application/json"),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=course.stack.infra.kafka_bootstrap)
    await producer.start()
    try:
        topic = course.stack.topic(topics.INTAKE)
        await producer.send_and_wait(topic, b'{"course_id": ', key=b"poison", headers=headers)
    finally:
        await producer.stop()


async def replay_a_dead_letter(page: Page, source_topic: str) -> None:
    await page.get_by_role("link", name="Operations").click()
    letters = page.locator('table.letters[data-service="scheduling"]')
    deadline = datetime.now() + timedelta(seconds=60)
    while await letters.count() == 0:
        assert datetime.now() < deadline, await page.content()
        await page.wait_for_timeout(1000)
        await page.reload()
    await expect(letters).to_contain_text(ConsultationRequested.event_type())
    for service in ALL:  # each service's consumer lag, as its /metrics reports it
        await expect(page.locator("#lag")).to_contain_text(service)
    await screenshot(page, "operations")
    await letters.get_by_role("button", name="Replay").first.click()
    await expect(page.locator("#replayed")).to_contain_text(f"Replayed scheduling 0:0 to {source_topic}.")


async def record_the_40_minute_blood_pressure(page: Page, taken: str) -> None:
    """The visit's prompt offers the check's form; what is typed survives the prompts' polling
    (htmx swaps them every 2 s); once recorded, the visit shows it with who recorded it."""
    checks = page.locator("#checks")
    await expect(checks).to_contain_text("Blood pressure check due at", timeout=30_000)
    early = {"systolic": "136", "diastolic": "84", "taken_at": "00:00"}
    posted = await page.request.post(f"{page.url}/checks/blood-pressure", form=early)
    assert posted.status == 422 and "before the dose" in await posted.text(), await posted.text()
    await page.get_by_label("Systolic at 40 minutes").fill("136")
    await page.get_by_label("Diastolic at 40 minutes").fill("84")
    await page.get_by_label("Time taken").fill(taken)
    assert await serious_accessibility_violations(page) == [], "visit with the 40-minute check's form"
    await page.wait_for_timeout(2500)  # at least one poll of the prompts
    await expect(page.get_by_label("Systolic at 40 minutes")).to_have_value("136")
    await page.get_by_role("button", name="Record blood pressure").click()
    recorded = page.locator("#bp40-recorded")
    await expect(recorded).to_contain_text(f"136/84 mmHg, taken at {taken}; recorded by clin-1")
    await expect(page.get_by_role("button", name="Record blood pressure")).to_have_count(0)


async def the_rems_form_is_filled(page: Page, bp_taken: str, ready: str) -> None:
    await page.get_by_role("link", name="REMS monitoring form").click()
    form = page.locator("#rems")
    expected = {
        "Dose and lot number": "56 mg, lot LOT-2027-06",
        "Concomitant medications": MEDICATIONS,
        "Blood pressure before dosing": "124/78",
        "Blood pressure about 40 minutes after dosing": f"136/84 at {bp_taken}",
        "When the patient would have been ready to leave": ready,
        "Blood pressure before completion of monitoring": "128/80",
        "Dissociation": "mild",
        "Sedation": "none",
        "Dose number": "1",
    }
    for label, value in expected.items():
        await expect(form.get_by_role("row", name=label, exact=False)).to_contain_text(value)
    await expect(form).to_contain_text(re.compile(r"Total monitoring time\s*12\d minutes"))
    await expect(page.locator("#filing")).to_contain_text(f"due in {PROTOCOL.dosing.rems_form_due_days} days")
    await screenshot(page, "rems")
    await page.go_back()


async def the_unfiled_rems_form_is_escalated_then_filed(page: Page, console: str, appointment: str) -> None:
    """Two days before its day an unfiled REMS form is an urgent alert; filing it resolves the alert."""
    await page.goto(f"{console}/alerts")
    due = await reload_until_shown(page, page.locator('li.urgent[data-kind="RemsFormDue"]'))
    await expect(due).to_contain_text("REMS monitoring form due by")
    await page.goto(f"{console}/visits/{appointment}/rems")
    await expect(page.locator("#filing")).to_contain_text("due in 2 days")
    await page.get_by_role("button", name="Mark the form filed").click()
    await expect(page.locator("#filing")).to_contain_text("Filed by clin-1")
    await page.goto(f"{console}/alerts")
    await expect(due).to_have_count(0)
    await expect(page.locator('ul.resolved li[data-kind="RemsFormDue"]')).to_contain_text(
        "resolved by clin-1"
    )


async def a_halted_course_is_resumed(course: CourseDriver, page: Page, console: str) -> None:
    """A high-risk screening halts the course (an urgent alert); the clinician resumes it from its page."""
    cssrs = {"wish_to_be_dead": True, "suicidal_thoughts": True, "intent": True}
    cssrs["behaviour_past_3_months"] = False
    risky = screening(cssrs=cssrs)
    out = await course.post(course.intake(f"/courses/{course.course_id}/screening"), risky, 201)
    assert out["halted"] is True
    await course.wait("UrgentReviewRequired")
    await page.goto(f"{console}/courses/{course.course_id}")
    await expect(page.locator("#phase")).to_contain_text("HALTED for urgent review")
    await page.get_by_role("button", name="Resume (then rescreen)").click()
    await expect(page.locator("#phase")).not_to_contain_text("HALTED")
    await page.goto(f"{console}/alerts")
    await expect(page.locator('li.urgent[data-kind="UrgentReviewRequired"]')).to_contain_text("Urgent review")


async def discharge(page: Page, ready: str) -> None:
    """The 40-minute blood pressure comes filled from its check; the time the patient would have
    been ready to leave is offered as now (the end of monitoring) and entered."""
    await expect(page.get_by_label("Systolic after dose")).to_have_value("136")
    await expect(page.get_by_label("Diastolic after dose")).to_have_value("84")
    ready_at = page.get_by_label("When the patient would have been ready to leave")
    await expect(ready_at).to_have_value(re.compile(r"^\d\d:\d\d$"))
    await ready_at.fill(ready)
    await page.get_by_label("Highest systolic during monitoring").fill("138")
    await page.get_by_label("Lowest SpO2 (%)").fill("96")
    await page.get_by_label("Systolic before leaving").fill("128")
    await page.get_by_label("Diastolic before leaving").fill("80")
    await page.get_by_label("Dissociation").select_option("mild")
    await page.get_by_label("Discharge assessment passed (fit to leave)").check()
    assert await serious_accessibility_violations(page) == [], "visit with the discharge form filled"
    await page.get_by_role("button", name="Discharge").click()


async def the_medications_reached_no_event_and_no_log(course: CourseDriver) -> None:
    """Concomitant medications are clinical content: the console's visit record holds them; no
    event, no service's log and no audit record does."""
    assert all(MEDICATIONS not in str(e.data) for e in course.tap.events)
    for service in course.stack.services.values():
        assert "Sertraline" not in service.log_path.read_text(errors="replace"), service.log_path
    audited = await course.stack.fetchval(
        "console", "SELECT count(*) FROM audit_log WHERE audit_log::text LIKE '%Sertraline%'"
    )
    assert audited == 0


async def resolve_the_urgent_alert(page: Page, console: str) -> None:
    await page.goto(f"{console}/alerts")
    urgent = await reload_until_shown(page, page.locator('li.urgent[data-kind="IntegrationOverdue"]'))
    await expect(urgent).to_contain_text("URGENT Integration overdue")
    await urgent.get_by_role("button", name="Acknowledge").click()
    await expect(urgent).to_contain_text("acknowledged by clin-1")
    await screenshot(page, "alerts")
    await urgent.get_by_role("button", name="Resolve").click()
    await expect(urgent).to_have_count(0)
    resolved = page.locator('ul.resolved li[data-kind="IntegrationOverdue"]')
    await expect(resolved).to_contain_text("resolved by clin-1")


async def test_a_clinician_runs_a_dosing_visit_watches_the_course_live_and_resolves_an_alert(
    course: CourseDriver,
) -> None:
    console = course.stack.url("console")
    course.start_on("wed", CLINIC_ZONE.key)
    await course.prepared("intranasal")
    appt = await course.open_appointment("dosing")
    course.clock.jump_to(datetime.fromisoformat(appt["starts_at"]))

    async with browser() as b:
        context, page = await logged_in(b, console, "clin-1")
        await expect(page.locator("#staff-id")).to_have_text("clin-1")
        await board_shows(page, appt["id"])
        row = page.locator(f'tr[data-appointment="{appt["id"]}"]')
        await expect(row).to_contain_text("Scheduled")
        await screenshot(page, "today")
        await the_access_token_is_refreshed_when_it_expires(course, page)

        # the dosing visit: a check-in refused by scheduling's rule, in words beside the field
        await row.get_by_role("link", name="Open dosing visit").click()
        medications = page.get_by_label("Concomitant medications")
        await medications.fill(MEDICATIONS)
        await page.get_by_label("Systolic", exact=True).fill("150")
        await page.get_by_label("Diastolic", exact=True).fill("92")
        await page.get_by_label("Ride home confirmed").check()
        await page.get_by_label("Fasting instruction followed").check()
        await page.get_by_role("button", name="Check in").click()
        refusal = page.locator("#blood_pressure-refusal")
        await expect(refusal).to_have_text(
            "Blood pressure is too high to dose: at or above 140/90 (intranasal@1)."
        )
        await screenshot(page, "visit-refused")
        await expect(medications).to_have_value(MEDICATIONS)  # kept in the form through the refusal
        await page.get_by_label("Systolic", exact=True).fill("124")
        await page.get_by_label("Diastolic", exact=True).fill("78")
        await page.get_by_label("Ride home confirmed").check()
        await page.get_by_label("Fasting instruction followed").check()
        await page.get_by_role("button", name="Check in").click()
        await expect(page.locator("#visit-status")).to_have_text("Checked in")
        await page.get_by_label("Dose given (mg)").fill("56")
        await page.get_by_label("Lot number").fill("LOT-2027-06")
        await page.get_by_role("button", name="Record administration").click()
        await expect(page.locator("#visit-status")).to_have_text("In monitoring")
        await screenshot(page, "visit")
        administered = course.clock.now()
        await page.get_by_role("link", name="Today").click()
        await expect(row).to_contain_text(re.compile(r"In monitoring \(\d+ min\)"))

        # the course's timeline takes the 40-minute blood-pressure prompt without a reload
        await page.goto(f"{console}/courses/{course.course_id}")
        await expect(page.locator("#phase")).to_contain_text("preparation complete")
        timeline = page.locator("#timeline")
        await expect(timeline).to_contain_text("PreparationCompleted")
        await expect(page.locator("table.plan")).to_contain_text("1")
        await page.evaluate("window.__not_reloaded = true")
        await expect(timeline).not_to_contain_text("MonitoringCheckDue")
        course.clock.jump_to(administered + timedelta(minutes=40, seconds=1))
        await course.wait("MonitoringCheckDue", check="blood_pressure")
        await expect(timeline).to_contain_text("MonitoringCheckDue · check: blood_pressure", timeout=30_000)
        assert await page.evaluate("window.__not_reloaded === true"), "the page was reloaded"
        await screenshot(page, "course")

        # the prompt on the visit page: the clinician records the 40-minute blood pressure there
        await page.goto(f"{console}/visits/{appt['id']}")
        bp_taken = hhmm(administered + timedelta(minutes=40))
        await record_the_40_minute_blood_pressure(page, bp_taken)

        # discharge at the protocol's time, then the integration window closes unheld: an urgent alert
        course.clock.jump_to(administered + timedelta(minutes=120, seconds=1))
        await course.wait("MonitoringCheckDue", check="discharge")
        await page.goto(f"{console}/visits/{appt['id']}")
        await expect(page.locator("#checks")).to_contain_text("Discharge check due at", timeout=30_000)
        await expect(page.locator("#bp40-recorded")).to_contain_text("136/84 mmHg")
        ready = hhmm(administered + timedelta(minutes=118))
        await discharge(page, ready)
        await expect(page.locator("#visit-status")).to_have_text("Done")
        await the_rems_form_is_filled(page, bp_taken, ready)
        await the_medications_reached_no_event_and_no_log(course)
        due = (await course.wait("IntegrationDue", dose_number=1))[0].data
        course.clock.jump_to(datetime.fromisoformat(due["window_closes_at"]) + timedelta(seconds=1))
        await course.wait("IntegrationOverdue", dose_number=1)
        await resolve_the_urgent_alert(page, console)
        course.clock.jump_to(administered + timedelta(days=5))
        await the_unfiled_rems_form_is_escalated_then_filed(page, console, appt["id"])
        await a_halted_course_is_resumed(course, page, console)
        await find_the_patient_and_look_at_the_waitlist(page, course.course_id)
        await context.close()
        await the_console_audited_who_saw_the_patient(course)

        # an intake coordinator: no administration button, and refused by scheduling if posted anyway
        context, page = await logged_in(b, console, "coord-1")
        await page.goto(f"{console}/visits/{appt['id']}")
        await expect(page.get_by_role("heading", name="Administration")).to_be_visible()
        await expect(page.get_by_role("button", name="Record administration")).to_have_count(0)
        await screenshot(page, "visit-coordinator")
        posted = await page.request.post(
            f"{console}/visits/{appt['id']}/administration", form={"dose_mg": "56"}
        )
        assert posted.status == 403, await posted.text()
        assert "Your role may not do this" in await posted.text()
        check = {"systolic": "120", "diastolic": "80", "taken_at": "00:00"}
        posted = await page.request.post(f"{console}/visits/{appt['id']}/checks/blood-pressure", form=check)
        assert posted.status == 403, await posted.text()  # the console's own record: clinicians only
        await expect(page.get_by_role("link", name="Operations")).to_have_count(0)  # admins only
        assert (await page.request.get(f"{console}/operations")).status == 403
        # logging out ends the console's session and Keycloak's: the next page asks for the password
        await page.get_by_role("button", name="Log out").click()
        await expect(page.get_by_text("Signed out.")).to_be_visible()
        await page.goto(f"{console}/")
        await expect(page.locator("#kc-form-login")).to_be_visible()
        await context.close()

        # an admin: a poison record's dead letters per service, one replayed to its source topic
        await poison(course)
        context, page = await logged_in(b, console, "admin-1")
        await replay_a_dead_letter(page, course.stack.topic(topics.INTAKE))
        await context.close()
