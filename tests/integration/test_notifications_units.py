"""notifications' consumer use cases on the unit of work, against PostgreSQL: a redelivered event
writes nothing — through a one-statement use case (AppointmentScheduled) and a transactional one
(AppointmentRescheduled, which cancels and replans reminders as it goes) alike. Their statement
counts: tests/unit/test_notifications_units.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.test_notifications_delivery import Harness, make_harness
from tests.support.infra import Infra
from tests.support.patient_events import appointment_rescheduled

START = datetime(2024, 6, 6, 19, 0, tzinfo=UTC)


@pytest.fixture
async def h(infra: Infra) -> AsyncIterator[Harness]:
    async with make_harness(infra) as harness:
        yield harness


async def state(h: Harness) -> list[object]:
    """Everything the consumer's use cases write, row by row."""
    tables = ("inbox", "outbox", "audit_log", "deliveries", "timers", "appointments")
    counts = await h.pool.fetchrow(
        "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)  # noqa: S608 - constants
    )
    assert counts is not None
    timers = await h.pool.fetch("SELECT id, status, due_at FROM timers ORDER BY id")
    appointments = await h.pool.fetch("SELECT appointment_id, starts_at, updated_at FROM appointments")
    return [tuple(counts), [tuple(r) for r in timers], [tuple(r) for r in appointments]]


async def test_a_redelivered_event_writes_nothing_in_either_kind_of_unit(h: Harness) -> None:
    await h.contact()
    booked = h.appointment(START)
    scheduled = await h.handle(booked)
    before = await state(h)
    await h.handle(booked, scheduled)  # redelivered: one statement, failed on the inbox key
    assert await state(h) == before
    new = START + timedelta(days=1)
    moved = appointment_rescheduled(booked, new)
    rescheduled = await h.handle(moved)
    after = await state(h)
    assert after != before  # the first delivery cancelled the reminders and planned new ones
    await h.handle(moved, rescheduled)  # redelivered: its cancels and plans are rolled back
    assert await state(h) == after
