"""The patient page's links and second factor on a real PostgreSQL: a message's link is minted once
and never shared, five wrong dates of birth turn the link off (each one audited), the right one opens
a session for that link only, and a newer contact record without a date of birth keeps the one on
file. Texts off from the page go through the STOP path and tell the care team."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from katflow_notifications.adapters import postgres_portal as store
from katflow_notifications.adapters.postgres_queue import DELIVERIES_CHANNEL
from katflow_notifications.adapters.postgres_recipients import recipient_row
from katflow_notifications.domain.staff import load_staff
from katflow_notifications.domain.templates import default_registry
from katflow_notifications.service_layer.link_purge import LinkPurge
from katflow_notifications.service_layer.planning import Planner
from katflow_notifications.service_layer.portal import Access, PatientPage
from katflow_notifications.service_layer.portal_links import LinkMinter
from katflow_notifications.settings import NotificationsSettings
from katflow_shared import timers
from katflow_shared.clock import FixedClock
from katflow_shared.contracts import PatientContactUpdated
from katflow_shared.messaging import outbox
from katflow_shared.messaging.emitter import Emitter
from katflow_shared.settings import ServiceSettings
from katflow_shared.unit_of_work import Units
from katflow_shared.wakeup import Announcer
from tests.support.databases import NOTIFICATIONS, migrated_database
from tests.support.infra import Infra
from tests.support.patient_events import contact_updated

pytestmark = pytest.mark.integration

T0 = datetime(2027, 6, 7, 17, tzinfo=UTC)
BORN = date(1979, 11, 3)
PHONE = "+13125550177"


@pytest.fixture
async def pool(infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_database(infra, "portal_it", NOTIFICATIONS) as db:
        yield db.pool


def contact(patient: uuid.UUID, at: datetime, born: date | None) -> PatientContactUpdated:
    return contact_updated(
        patient,
        at,
        time_zone="America/Chicago",
        email_address="ada@example.org",
        phone=PHONE,
        given_name="Ada",
        born=born,
    )


async def on_file(pool: asyncpg.Pool, patient: uuid.UUID, born: date | None = BORN) -> None:
    statement, values = recipient_row(contact(patient, T0, born))
    await pool.execute(statement, *values)


def page(pool: asyncpg.Pool, clock: FixedClock) -> PatientPage:
    settings = NotificationsSettings()
    directory, dispatching = load_staff(settings.staff_directory), Announcer(DELIVERIES_CHANNEL)
    planner = Planner(directory, default_registry("en"), settings, clock, dispatching)
    emitter = Emitter(ServiceSettings(environment="test"), Announcer(outbox.CHANNEL))
    return PatientPage(Units(pool, clock, emitter, Announcer(timers.CHANNEL)), settings, None, planner)


async def token_of(p: PatientPage, patient: uuid.UUID, delivery: uuid.UUID | None = None) -> str:
    url = await LinkMinter(p.settings).url(p.pool, p.clock.now(), delivery or uuid.uuid4(), patient)
    assert url is not None
    return url.rsplit("/", 1)[1]


async def test_a_messages_link_is_minted_once_and_never_shared(pool: asyncpg.Pool) -> None:
    minter, patient, delivery = LinkMinter(NotificationsSettings()), uuid.uuid4(), uuid.uuid4()
    first = await minter.url(pool, T0, delivery, patient)
    assert first is not None and await minter.url(pool, T0 + timedelta(hours=1), delivery, patient) == first
    other = uuid.uuid4()  # another message whose derived link id is already taken: refused
    await pool.execute(
        "INSERT INTO portal_links(link_id, patient_id, delivery_id, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $4)",
        minter.link_id_for(other),
        uuid.uuid4(),
        uuid.uuid4(),
        T0,
    )
    assert await minter.url(pool, T0, other, patient) is None


async def test_five_wrong_dates_of_birth_turn_the_link_off(pool: asyncpg.Pool) -> None:
    patient, clock = uuid.uuid4(), FixedClock(T0)
    await on_file(pool, patient)
    p = page(pool, clock)
    token = await token_of(p, patient)
    answers = [await p.confirm(token, "2000-01-01") for _ in range(5)]
    assert answers == ["wrong"] * 4 + ["revoked"]
    assert await p.confirm(token, BORN.isoformat()) == "revoked"  # the right answer comes too late
    denied = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'portal.second_factor' AND outcome = 'denied'"
        " AND patient_id = $1 AND actor = 'anonymous:portal-link'",
        patient,
    )
    assert denied == 5


async def test_the_right_answer_opens_that_link_only_until_the_session_ends(pool: asyncpg.Pool) -> None:
    patient, clock = uuid.uuid4(), FixedClock(T0)
    await on_file(pool, patient)
    p = page(pool, clock)
    token, another = await token_of(p, patient), await token_of(p, patient)
    session = await p.confirm(token, BORN.isoformat())
    assert isinstance(session, str) and session not in ("wrong", "revoked", "expired", "unknown")
    opened = await p.access(token, session)
    assert isinstance(opened, Access) and opened.holder.patient_id == patient
    assert await p.access(another, session) is None  # a session is its link's own
    assert await p.access(token, None) is None
    clock.advance(timedelta(minutes=p.settings.portal_session_minutes))
    assert await p.access(token, session) is None
    clock.advance(timedelta(days=p.settings.portal_link_days))
    assert await p.access(token, session) == "expired"


async def test_no_date_of_birth_on_file_never_opens(pool: asyncpg.Pool) -> None:
    patient, clock = uuid.uuid4(), FixedClock(T0)
    await on_file(pool, patient, born=None)
    p = page(pool, clock)
    assert await p.confirm(await token_of(p, patient), "") == "wrong"


async def test_a_newer_contact_without_a_date_of_birth_keeps_the_one_on_file(pool: asyncpg.Pool) -> None:
    patient = uuid.uuid4()
    await on_file(pool, patient)
    statement, values = recipient_row(contact(patient, T0 + timedelta(days=1), None))
    await pool.execute(statement, *values)
    holder = await store.holder(pool, patient)
    assert holder is not None and holder.date_of_birth == BORN


async def test_texts_off_on_the_page_is_a_stop_of_the_number_and_tells_the_care_team(
    pool: asyncpg.Pool,
) -> None:
    patient, clock = uuid.uuid4(), FixedClock(T0)
    await on_file(pool, patient)
    p = page(pool, clock)
    token = await token_of(p, patient)
    session = await p.confirm(token, BORN.isoformat())
    opened = await p.access(token, str(session))
    assert isinstance(opened, Access)
    clock.advance(timedelta(minutes=1))
    await p.preferences(opened, email=True, sms=False)
    row = await pool.fetchrow(
        "SELECT r.sms_consent, r.sms_consent_method, o.opted_out FROM recipients r"
        " JOIN sms_opt_outs o ON o.phone = r.phone WHERE r.patient_id = $1",
        patient,
    )
    assert dict(row) == {"sms_consent": False, "sms_consent_method": "portal", "opted_out": True}
    notices = await pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE notification = 'patient_opted_out' AND audience = 'staff'"
    )
    assert notices >= 1


async def test_links_are_deleted_once_expired_past_the_keeping_time(pool: asyncpg.Pool) -> None:
    """A link expired longer than portal_link_keep_days ago is deleted; one expired more recently
    is kept, and its message's one-click unsubscribe still works."""
    patient, clock = uuid.uuid4(), FixedClock(T0)
    await on_file(pool, patient)
    p = page(pool, clock)
    old = await token_of(p, patient)
    clock.advance(timedelta(days=30))
    recent = await token_of(p, patient)
    keep, days = p.settings.portal_link_keep_days, p.settings.portal_link_days
    clock.advance(timedelta(days=days + keep - 30, minutes=1))  # old: expired keep days + 1 min ago
    purge = LinkPurge(pool, clock, p.settings)
    assert await purge.purge() == 1
    assert await pool.fetchval("SELECT count(*) FROM portal_links WHERE patient_id = $1", patient) == 1
    assert await p.link(old) == "expired" and not await p.unsubscribe(old)
    assert await p.unsubscribe(recent)  # expired 60 days ago, still kept
    assert await purge.purge() == 0
    clock.advance(timedelta(days=30))
    assert await purge.purge() == 1
    assert await pool.fetchval("SELECT count(*) FROM portal_links WHERE patient_id = $1", patient) == 0


async def test_the_language_chosen_on_the_page_is_the_pages_and_the_next_messages(pool: asyncpg.Pool) -> None:
    patient, clock = uuid.uuid4(), FixedClock(T0)
    await on_file(pool, patient)
    p = page(pool, clock)
    token = await token_of(p, patient)
    opened = await p.access(token, str(await p.confirm(token, BORN.isoformat())))
    assert isinstance(opened, Access) and p.language(opened.holder) == "en"
    await p.preferences(opened, email=True, sms=True, locale="es")
    again = await p.access(token, str(await p.confirm(token, BORN.isoformat())))
    assert isinstance(again, Access) and again.holder.locale == "es"
    assert (await p.show(again)).lang == "es"
    detail = await pool.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'portal.preferences' AND patient_id = $1", patient
    )
    assert '"locale": "es"' in detail
