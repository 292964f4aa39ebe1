"""The patient's page in a real browser (Playwright driving Debian's chromium) against the real
notifications process: from the booking email in the SMTP server, open the link, pass the second
factor, read the next dose's fasting instruction, download its .ics; turn texts off and see the next
reminders go by email only; on the morning of the dose confirm the ride home and fasting and ask to
reschedule (events on katflow.notifications.v1); a forwarded link without the second factor, an
expired link and a revoked one show nothing personal. Events are produced straight onto the topics,
and the service's clock is moved with its clock-offset file (a fixed June day next year, whatever day
the suite runs)."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import re
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import ConsumerRecord
from playwright.async_api import Browser, Page, async_playwright

from katflow_notifications.devtools.fake_provider import FakeProvider
from katflow_notifications.domain.portal import links
from katflow_notifications.settings import DEV_PORTAL_SECRET
from katflow_shared.contracts import (
    AppointmentScheduled,
    CourseCompleted,
    PreparationCompleted,
)
from katflow_shared.contracts.common import AppointmentKind, Route
from katflow_shared.contracts.topics import NOTIFICATIONS
from katflow_tools.stack import free_port
from tests.support.event_world import ZONE, EventWorld, event_stack
from tests.support.infra import Infra
from tests.support.patient_events import appointment_scheduled
from tests.support.stack import read_topic, wait_for

pytestmark = pytest.mark.e2e

PHONE = "+15557650029"
EMAIL = "page-patient@example.org"
BORN = date(1988, 4, 12)
NAME = "Evelyn"
FASTING = "No food for 6 hours and no drinks for 2 hours before your visit."  # iv@1's instructions
READY, REQUESTED = "io.katflow.ReadinessConfirmed.v1", "io.katflow.AppointmentChangeRequested.v1"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/portal/p/[A-Za-z0-9_-]{32}")


@dataclass
class World(EventWorld):
    provider: FakeProvider
    browser: Browser

    async def fresh_page(self) -> Page:
        """A browser of its own (no cookies): the patient's, or whoever the link was forwarded to."""
        context = await self.browser.new_context(accept_downloads=True)
        return await context.new_page()


def ce_type(record: ConsumerRecord[bytes, bytes]) -> str:
    return dict(record.headers).get("ce_type", b"").decode()


@pytest.fixture
async def world(infra: Infra) -> AsyncIterator[World]:
    provider = FakeProvider().start()
    playwright = await async_playwright().start()
    browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
    try:
        async with event_stack(infra, KATFLOW_SMS_BASE_URL=provider.url, KATFLOW_SMS_API_KEY="e2e-key") as (
            stack,
            offset_file,
            producer,
        ):
            stack.cfg.extra_env["KATFLOW_PORTAL_URL"] = stack.url("notifications") + "/portal"
            stack.start("notifications")
            patient, course = uuid.uuid4(), uuid.uuid4()
            yield World(stack, offset_file, producer, EMAIL, PHONE, patient, course, provider, browser)
    finally:
        await browser.close()
        await playwright.stop()
        provider.stop()


async def contact(w: World) -> datetime:
    return await w.contact(given_name=NAME, born=BORN, at=w.now())


async def book_a_dose(w: World) -> AppointmentScheduled:
    at = await contact(w)
    await w.publish(
        PreparationCompleted(
            course_id=w.course_id,
            patient_id=w.patient_id,
            route=Route.IV,
            protocol_version="iv@1",
            patient_time_zone=ZONE,
            completed_at=at,
        )
    )
    start = at + timedelta(days=3)
    dose = appointment_scheduled(w, start, AppointmentKind.DOSING, zone=ZONE, hours=2)
    await w.publish(dose)
    return dose


async def shows_nothing_personal(page: Page) -> str:
    text = await page.inner_text("body")
    for personal in (NAME, FASTING, "Treatment session", EMAIL, PHONE, BORN.isoformat()):
        assert personal not in text
    return text


async def test_the_patient_page_from_the_booking_email(world: World) -> None:
    w = world
    dose = await book_a_dose(w)
    mail = await w.mail("Your appointment is confirmed")
    [link] = LINK.findall(mail)
    token = link.rsplit("/", 1)[1]
    assert str(w.patient_id) not in link and str(dose.appointment_id) not in link

    # forwarded: whoever opens it without the second factor sees a question, nothing personal
    stranger = await w.fresh_page()
    response = await stranger.goto(link)
    assert response is not None and response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert "Confirm it's you" in await shows_nothing_personal(stranger)
    await stranger.fill("#dob", "1990-01-01")
    await stranger.click("button[type=submit]")
    assert "did not match" in await shows_nothing_personal(stranger)

    # the patient: date of birth, then the visit written out with its fasting instruction
    patient = await w.fresh_page()
    await patient.goto(link)
    await patient.fill("#dob", BORN.isoformat())
    await patient.click("button[type=submit]")
    await patient.wait_for_selector("text=Hello " + NAME)
    visit = patient.locator("section.visit.upcoming").first
    local = dose.starts_at.astimezone(ZoneInfo(ZONE))
    text = await visit.inner_text()
    assert f"{local:%A}, {local.day} {local:%B %Y}" in text
    assert f"{local:%I:%M %p}".lstrip("0") in text and FASTING in text
    assert "Do not drive until the next day" in text
    async with patient.expect_download() as download_info:
        await visit.locator("button", has_text="Add to calendar").click()
    ics = await asyncio.to_thread(Path(await (await download_info.value).path()).read_text)
    assert "BEGIN:VCALENDAR" in ics and f"UID:{dose.appointment_id}@katflow" in ics
    assert f"DTSTART:{dose.starts_at.astimezone(UTC):%Y%m%dT%H%M%SZ}" in ics

    # texts off and Spanish, at once: the page speaks Spanish, and the plan-ahead and 24 h reminders
    # (texts first) go by email only, in Spanish
    await patient.uncheck("input[name=sms]")
    await patient.select_option("#locale", "es")
    await patient.click("#preferences button[type=submit]")
    await patient.wait_for_selector("#saved")
    assert not await patient.is_checked("input[name=sms]")
    assert await patient.get_attribute("html", "lang") == "es"
    assert "Próximas citas" in await patient.inner_text("main")
    spanish = await patient.locator("section.visit.upcoming").first.inner_text()
    assert f"{local.day} de " in spanish and f"{local:%H:%M}" in spanish and FASTING in spanish
    texts_before = len(w.provider.texts_to(PHONE))
    w.jump_to(dose.starts_at - timedelta(hours=24) + timedelta(seconds=5))
    await w.mail("Prepárese para su próxima visita")
    reminder = await w.mail("Recordatorio de su cita")
    assert LINK.search(reminder)  # every message links to the page with a link of its own
    assert len(w.provider.texts_to(PHONE)) == texts_before

    # the morning of the dose (the session has ended: the second factor again): confirm the ride
    # home and fasting, and ask to reschedule — events on the topic for staff to act on
    w.jump_to(dose.starts_at - timedelta(hours=3))
    await patient.goto(link)
    assert "Confirm it's you" in await shows_nothing_personal(patient)
    await patient.fill("#dob", BORN.isoformat())
    await patient.click("button[type=submit]")
    await patient.check("form.ready input[name=ride_home]")
    await patient.check("form.ready input[name=fasting]")
    await patient.click("form.ready button[type=submit]")
    await patient.wait_for_selector("#sent")
    await patient.locator("form.request button[value=reschedule]").first.click()
    await patient.wait_for_selector("text=solicitud de cambio de fecha")
    wanted = {READY, REQUESTED}
    records = await read_topic(
        w.stack.infra.kafka_bootstrap,
        w.stack.topic(NOTIFICATIONS),
        lambda rs: wanted <= {ce_type(r) for r in rs},
    )
    bodies = {ce_type(r): json.loads(r.value) for r in records if ce_type(r) in wanted}
    assert bodies[READY]["appointment_id"] == str(dose.appointment_id)
    assert bodies[READY]["ride_home"] is True and bodies[READY]["fasting"] is True
    assert bodies[REQUESTED]["appointment_id"] == str(dose.appointment_id)
    assert bodies[REQUESTED]["change"] == "reschedule"

    # an expired link (a genuine one, past its time) and a revoked one show nothing personal
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    expired = links.sign(DEV_PORTAL_SECRET.encode(), raw[:8], w.now() - timedelta(minutes=1))
    await stranger.goto(link.replace(token, expired))
    assert "can't be opened" in await shows_nothing_personal(stranger)
    await patient.click("#revoke")
    await patient.goto(link)
    assert "can't be opened" in await shows_nothing_personal(patient)

    # every view is the patient's own access on the audit trail; the log has no token and no PHI
    actions = await w.stack.fetchval(
        "notifications",
        "SELECT array_agg(DISTINCT action) FROM audit_log WHERE actor = $1",
        f"patient:{w.patient_id}",
    )
    expected = {"portal.view", "portal.calendar", "portal.preferences", "portal.readiness", "portal.revoke"}
    assert expected | {"portal.request_reschedule"} <= set(actions)
    log = w.stack.services["notifications"].log_path.read_text(errors="replace")
    for secret in (token, NAME, EMAIL, PHONE, BORN.isoformat()):
        assert secret not in log


async def test_the_page_alone_serves_links_the_notifications_process_minted(world: World) -> None:
    """``python -m katflow_notifications.portal``: the page without the rest of notifications (the
    internet-facing deployment) opens the links in messages the notifications process sent, and
    serves none of notifications' staff or provider endpoints."""
    w = world
    await book_a_dose(w)
    [link] = LINK.findall(await w.mail("Your appointment is confirmed"))
    port = free_port()
    env = {**w.stack.services["notifications"].env(), "KATFLOW_HTTP_PORT": str(port)}
    log = w.stack.cfg.run_dir / "logs" / "portal.log"
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "katflow_notifications.portal", env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as http:

            async def ready() -> bool:
                try:
                    return (await http.get(f"{base}/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            assert await wait_for(ready, within=60), log.read_text(errors="replace")[-2000:]
            page = await w.fresh_page()
            await page.goto(base + link.split(w.stack.url("notifications"), 1)[1])
            await page.fill("#dob", BORN.isoformat())
            await page.click("button[type=submit]")
            assert FASTING in await page.inner_text("section.visit.upcoming")
            assert (await http.get(f"{base}/v1/staff/clin-1/feed")).status_code == 404
            assert (await http.post(f"{base}/v1/sms/inbound", content=b"{}")).status_code == 404
    finally:
        proc.terminate()
        await proc.wait()


async def test_one_click_unsubscribe_stops_surveys_not_appointment_messages(world: World) -> None:
    """RFC 8058: an optional message (the course survey) carries List-Unsubscribe and
    List-Unsubscribe-Post; one POST of List-Unsubscribe=One-Click stops the next survey on every
    channel, while an appointment's confirmation still goes, without those headers."""
    w = world
    await contact(w)
    done = CourseCompleted(course_id=w.course_id, patient_id=w.patient_id, doses=6, completed_at=w.now())
    await w.publish(done)
    text = await w.mail("A short check-in survey")
    [survey] = w.mail_headers("A short check-in survey")
    [survey_link] = re.findall(r"http://\S+/portal/p/[A-Za-z0-9_-]{32}/surveys", text)
    assert survey["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = str(survey["List-Unsubscribe"]).strip("<>")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/portal/u/[A-Za-z0-9_-]{32}", unsubscribe)
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(
            unsubscribe,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200 and NAME not in answer.text
        opened = await http.get(survey_link, follow_redirects=True)  # surveys: the page (factor first)
        assert opened.status_code == 200 and "Confirm it's you" in html.unescape(opened.text)
        bare = await http.get(w.stack.url("notifications") + "/portal")  # what too-long texts carry
        assert bare.status_code == 200 and "most recent email" in bare.text

    w.jump_to(done.completed_at + timedelta(days=30, hours=1))  # the second survey falls due

    async def withheld() -> list[tuple[str, str]] | None:
        rows = await w.stack.fetchval(
            "notifications",
            "SELECT array_agg(channel || ':' || coalesce(reason, '') ORDER BY created_at) FROM deliveries"
            " WHERE notification = 'course_survey' AND status = 'suppressed'",
        )
        return rows if rows and len(rows) >= 2 else None

    assert await wait_for(withheld, within=60) == ["email:unsubscribed", "sms:unsubscribed"]
    assert len(w.mail_headers("A short check-in survey")) == 1 and not w.provider.texts_to(PHONE)

    start = w.now() + timedelta(days=3)
    await w.publish(appointment_scheduled(w, start, AppointmentKind.INTEGRATION, zone=ZONE))
    await w.mail("Your appointment is confirmed")
    [confirmation] = w.mail_headers("Your appointment is confirmed")
    assert confirmation["List-Unsubscribe"] is None
