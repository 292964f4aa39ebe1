"""Settling accepted deliveries against a real PostgreSQL: those a provider accepted while a settle
was in flight share the next statement, and each is still recorded whole (its state, its accepted
attempt, its audit record, its NotificationSent, its feed item); a statement that fails on one of
them records the others."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest

from katflow_notifications.adapters import postgres_settle as store
from katflow_notifications.adapters.postgres_feed import PostgresFeed
from katflow_notifications.adapters.postgres_settle import Accepted
from katflow_notifications.domain.deliveries import Delivery
from katflow_notifications.domain.templates import Rendered
from katflow_notifications.ports import Outbound, Receipt
from katflow_notifications.service_layer.settling import Settler
from katflow_shared.contracts import UrgentReviewRequired
from tests.integration.test_notifications_delivery import Harness, make_harness
from tests.support.infra import Infra


@pytest.fixture
async def h(infra: Infra) -> AsyncIterator[Harness]:
    async with make_harness(infra) as harness:
        yield harness


def counted_statements(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many deliveries each settle statement carried."""
    sizes: list[int] = []
    settled = store.settled

    def counting(accepted: Sequence[Accepted]) -> Any:
        sizes.append(len(accepted))
        return settled(accepted)

    monkeypatch.setattr(store, "settled", counting)
    return sizes


async def claimed_staff_deliveries(h: Harness) -> list[Delivery]:
    """An urgent review's three staff deliveries (an email, a feed item, a webhook push), claimed."""
    await h.handle(
        UrgentReviewRequired(
            alert_id=uuid.uuid4(), course_id=uuid.uuid4(), patient_id=uuid.uuid4(), raised_at=h.clock.now()
        )
    )
    claimed = await h.dispatcher._claim(10)
    assert len(claimed) == 3
    return claimed


async def receipt(d: Delivery) -> Receipt:
    """What the provider answered; the feed's carries its item (``PostgresFeed``)."""
    if d.channel != "feed":
        return Receipt(f"<{d.id}@katflow>")
    message = Rendered("Urgent review", "A clinician is needed.")
    return await PostgresFeed().send(Outbound(d.id, str(d.staff_id), message, True, d.notification))


async def test_deliveries_accepted_together_are_settled_in_one_statement_each_whole(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = counted_statements(monkeypatch)
    claimed = await claimed_staff_deliveries(h)
    sends = {d.id: await receipt(d) for d in claimed}
    now = h.clock.now()
    await asyncio.gather(
        *(h.dispatcher.outcomes.sent(h.dispatcher.runtime.queue_units, d, sends[d.id], now) for d in claimed)
    )
    assert sizes == [3]  # one round trip for the three
    rows = {r["id"]: r for r in await h.deliveries()}
    assert sorted((r["channel"], r["status"], r["attempts"]) for r in rows.values()) == [
        ("email", "sent", 1),
        ("feed", "delivered", 1),
        ("staff_webhook", "sent", 1),
    ]
    attempts = await h.pool.fetch("SELECT delivery_id, attempt, outcome, provider_id FROM delivery_attempts")
    assert sorted((a["delivery_id"], a["attempt"], a["outcome"]) for a in attempts) == sorted(
        (d.id, 1, "accepted") for d in claimed
    )
    assert {a["delivery_id"]: a["provider_id"] for a in attempts} == {
        d.id: sends[d.id].provider_id for d in claimed
    }
    audited = await h.pool.fetch("SELECT resource FROM audit_log WHERE action = 'message.sent'")
    assert len(audited) == 3
    sent = await h.events("NotificationSent")
    assert sorted(e["delivery_id"] for e in sent) == sorted(str(d.id) for d in claimed)
    [item] = await h.pool.fetch("SELECT delivery_id FROM feed_items")
    assert item["delivery_id"] == next(d.id for d in claimed if d.channel == "feed")


async def test_a_statement_that_fails_on_one_delivery_records_the_others(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = counted_statements(monkeypatch)
    claimed = await claimed_staff_deliveries(h)
    outcomes, now = h.dispatcher.outcomes, h.clock.now()
    receipts = [await receipt(d) for d in claimed]
    good = [
        Accepted(d.id, r, now, outcomes._entry(d, "sent", r.provider_id), None)
        for d, r in zip(claimed, receipts, strict=True)
    ]
    entry = list(good[0].audited)
    entry[5] = "not a patient id"  # the audit record's patient_id: refused, and no retry mends it
    bad = Accepted(claimed[0].id, good[0].receipt, now, tuple(entry), None)
    settler = Settler()
    results = await asyncio.gather(
        *(settler.settle(h.dispatcher.runtime.queue_units, a) for a in [good[1], bad, good[2]]),
        return_exceptions=True,
    )
    assert sizes == [3, 1, 1, 1]  # together, then one at a time
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], asyncpg.DataError)  # the one at fault, alone
    status = {r["id"]: r["status"] for r in await h.deliveries()}
    assert status[claimed[0].id] == "sending"  # the one at fault: its lease returns it to the queue
    assert {status[claimed[1].id], status[claimed[2].id]} <= {"sent", "delivered"}


async def test_alone_a_delivery_is_settled_at_once_in_a_statement_of_its_own(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = counted_statements(monkeypatch)
    claimed = await claimed_staff_deliveries(h)
    for d in claimed:  # one after another: nothing to share a statement with
        await h.dispatcher.outcomes.sent(h.dispatcher.runtime.queue_units, d, await receipt(d), h.clock.now())
    assert sizes == [1, 1, 1]
    assert {r["status"] for r in await h.deliveries()} <= {"sent", "delivered"}


async def test_claims_and_settles_run_on_generic_plans(h: Harness) -> None:
    """The dispatcher's queue statements run on sessions that plan each statement once
    (db.GENERIC_PLANS) — the harness's runtime has that pool, as a deployed one does — and every
    other test in this module and test_notifications_delivery claims and settles through it."""
    queue = h.dispatcher.runtime.queue
    assert queue is not h.pool and h.dispatcher.runtime.queue_units.pool is queue
    claimed = await claimed_staff_deliveries(h)
    sends = {d.id: await receipt(d) for d in claimed}
    await asyncio.gather(
        *(
            h.dispatcher.outcomes.sent(h.dispatcher.runtime.queue_units, d, sends[d.id], h.clock.now())
            for d in claimed
        )
    )
    assert {r["status"] for r in await h.deliveries()} == {"sent", "delivered"}
    async with queue.acquire() as conn:
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
    assert await h.pool.fetchval("SHOW plan_cache_mode") == "auto"  # optional-filter searches keep theirs
