"""scheduling's booking search against a real PostgreSQL: every consultation lands on the first free
slot a search from scratch would find, even though searches resume at the stored watermark; anything
that frees a reserved interval (cancel, reschedule, no-show) makes the freed time bookable again at
once; a restart (or an admin's change) drops the watermarks."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from katflow_scheduling.adapters import postgres_calendar as calendar
from katflow_scheduling.adapters.postgres_courses import ensure_course, load_plan
from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.domain.reservations import Reservation, Watermark, first_reservation
from katflow_scheduling.service_layer import booking, changes
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared import db
from katflow_shared.contracts.common import CancellationReason
from katflow_shared.errors import RuleViolation
from tests.support.infra import Infra
from tests.support.scheduling import STAFF, Harness, harness

ZONE = "America/New_York"


async def consult(h: Harness, zone: str = ZONE) -> asyncpg.Record:
    course_id = uuid.uuid4()
    async with h.units.start() as uow:  # AppointmentScheduled goes with the booking
        await ensure_course(uow.conn, course_id, uuid.uuid4(), zone)
        plan = await load_plan(uow.conn, course_id)
        await booking.book_consultation(uow, h.deps, plan, str(uuid.uuid4()))
    row = await h.pool.fetchrow(
        "SELECT id, clinician_id, lower(during) AS s, upper(during) AS e FROM appointments"
        " WHERE course_id = $1",
        course_id,
    )
    assert row is not None
    return row


async def from_scratch(h: Harness, zone: str = ZONE) -> Reservation | None:
    """Where a search that ignores every watermark would put the next consultation."""
    need = h.deps.need("consultation", with_room=False)
    earliest = h.clock.now() + timedelta(hours=h.deps.clinic.booking_lead_hours)
    async with h.pool.acquire() as conn:
        busy = await calendar.busy(conn, list(need.clinicians), earliest)
    duration = timedelta(minutes=h.deps.clinic.consultation_minutes)
    return first_reservation(h.deps.clinic, need, busy, earliest, duration, zone)


async def test_consultations_fill_the_calendar_in_order_through_the_watermark(h: Harness) -> None:
    for n in range(80):  # three clinicians, ~24 a day: more than three days
        zone = "America/Los_Angeles" if n % 7 == 3 else ZONE
        expected = await from_scratch(h, zone)
        got = await consult(h, zone)
        assert expected is not None
        assert (got["clinician_id"], got["s"]) == (expected.clinician_id, expected.start), n
        if n % 20 == 19:
            h.clock.advance(timedelta(hours=5))  # time passes: the search starts later
    full_until = await h.pool.fetchval("SELECT max(full_until) FROM search_watermarks")
    assert full_until is not None and full_until > h.clock.now() + timedelta(days=2)
    # no watermark to trust: the first two days read are full, the search reads further
    await h.deps.clinics.start(h.pool)  # a restart
    expected = await from_scratch(h)
    got = await consult(h)
    assert expected is not None and expected.start > h.clock.now() + timedelta(days=3)
    assert (got["clinician_id"], got["s"]) == (expected.clinician_id, expected.start)


async def test_freed_time_is_offered_again_at_once(h: Harness) -> None:
    booked = [await consult(h) for _ in range(40)]
    early = booked[4]
    await changes.cancel(h.units, early["id"], CancellationReason.CLINIC_REQUEST, STAFF)
    again = await consult(h)
    assert (again["clinician_id"], again["s"]) == (early["clinician_id"], early["s"])

    moved = booked[7]
    later = booked[-1]["s"] + timedelta(days=7)
    await changes.reschedule(h.units, h.deps, moved["id"], later)
    again = await consult(h)
    assert (again["clinician_id"], again["s"]) == (moved["clinician_id"], moved["s"])


async def test_a_move_waits_for_the_booking_in_progress(
    infra: Infra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one consultant, a staff move onto the slot a booking has just found free waits for that
    booking (the calendar lock): the booking's insert cannot fail on a slot taken meanwhile, and the
    move is refused (409)."""
    clinic = load_clinic(DEFAULT_CLINIC)
    one = clinic.model_copy(update={"clinicians": [c for c in clinic.clinicians if c.id == "clin-1"]})
    async with harness(infra, one) as h:
        booked = await consult(h)
        free = await from_scratch(h)
        assert free is not None
        insert = db.execute_composed

        async def slow_insert(*args: Any, **kwargs: Any) -> None:
            await asyncio.sleep(0.3)  # found free, not yet inserted
            await insert(*args, **kwargs)

        monkeypatch.setattr(db, "execute_composed", slow_insert)
        pending = asyncio.create_task(consult(h))
        await asyncio.sleep(0.1)
        to_free = free.start
        with pytest.raises(RuleViolation, match="no qualified clinician or room is free then"):
            await changes.reschedule(h.units, h.deps, booked["id"], to_free)
        got = await pending
        assert (got["clinician_id"], got["s"]) == (free.clinician_id, free.start)


async def test_a_booking_that_waited_for_the_lock_sees_the_time_freed_meanwhile(infra: Infra) -> None:
    """The calendar lock and the booking's first read (generation and watermark) are one round
    trip; the read must still see what the lock's previous holder committed. Here that holder
    cancels the first appointment (the generation moves): the waiting booking must take the freed
    slot, not resume at the old watermark past it."""
    clinic = load_clinic(DEFAULT_CLINIC)
    one = clinic.model_copy(update={"clinicians": [c for c in clinic.clinicians if c.id == "clin-1"]})
    async with harness(infra, one) as h:
        first = await consult(h)
        second = await consult(h)  # the watermark now lies past the first slot
        assert second["s"] > first["s"]
        async with h.pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            await calendar.lock_calendar(conn)
            await conn.execute("UPDATE appointments SET status = 'cancelled' WHERE id = $1", first["id"])
            waiting = asyncio.create_task(consult(h))
            await asyncio.sleep(0.3)  # the booking is waiting for the lock
            assert not waiting.done()
            await tx.commit()
        got = await waiting
        assert (got["clinician_id"], got["s"]) == (first["clinician_id"], first["s"])


async def test_a_booking_that_waited_for_the_lock_sees_the_time_booked_meanwhile(infra: Infra) -> None:
    """The booking's first window of bookings is read in the lock's round trip too; it must include
    what the lock's previous holder booked. Here the holder books the first free slot while the other
    booking waits: the waiting one must take the next slot, not fail on the one taken."""
    clinic = load_clinic(DEFAULT_CLINIC)
    one = clinic.model_copy(update={"clinicians": [c for c in clinic.clinicians if c.id == "clin-1"]})
    async with harness(infra, one) as h:
        await consult(h)  # a watermark to resume at
        async with h.units.start() as uow:  # committed at the end of the block
            await calendar.lock_calendar(uow.conn)
            course_id = uuid.uuid4()
            await ensure_course(uow.conn, course_id, uuid.uuid4(), ZONE)
            plan = await load_plan(uow.conn, course_id)
            held = await booking.book_consultation(uow, h.deps, plan, str(uuid.uuid4()))
            waiting = asyncio.create_task(consult(h))
            await asyncio.sleep(0.3)  # the booking is waiting for the lock
            assert not waiting.done()
        got = await waiting
        assert held is not None and got["s"] >= held.end
        assert (got["clinician_id"], got["s"]) == (held.clinician_id, held.end)  # 60-minute grid


async def test_the_lock_reads_the_window_the_search_resumes_at(h: Harness) -> None:
    """lock_for_search reads the first two days where the domain's rule (Watermark.resume_at) starts
    the search — before, inside and after the watermark — and the same bookings busy() reads there,
    so a booking needs no second read while it holds the lock."""
    for _ in range(30):
        await consult(h)
    need = h.deps.need("consultation", with_room=False)
    key, resources, span = calendar.need_key(need, 60), list(need.clinicians), timedelta(days=2)
    row = await h.pool.fetchrow(
        "SELECT searched_from, full_until FROM search_watermarks WHERE need = $1", key
    )
    assert row is not None
    mark = Watermark(row["searched_from"], row["full_until"])
    hour = timedelta(hours=1)
    inside = mark.searched_from + (mark.full_until - mark.searched_from) / 2
    read = 0
    async with h.pool.acquire() as conn:
        for earliest in (
            mark.searched_from - hour,
            mark.searched_from,
            inside,
            mark.full_until,
            mark.full_until + hour,
        ):
            start = mark.resume_at(earliest)
            async with conn.transaction():
                locked = await calendar.lock_for_search(conn, key, resources, earliest, span)
                assert (locked.mark, locked.since, locked.until) == (mark, start, start + span), earliest
                assert locked.busy == await calendar.busy(conn, resources, start, start + span), earliest
                read += sum(len(v) for v in locked.busy.values())
    assert read > 0  # the windows before the watermark's end hold the bookings made above


async def test_the_search_under_the_lock_is_planned_once_per_session(h: Harness) -> None:
    """The window's read inside the calendar lock runs on its generic plan (migration 006): planned
    once per session instead of on two bookings in three, ~0.35 ms each inside the serial section.
    The test above checks, on one connection, that what it reads is what busy() reads."""
    config = await h.pool.fetchval("SELECT proconfig FROM pg_proc WHERE proname = 'lock_calendar_for_search'")
    assert config == ["plan_cache_mode=force_generic_plan"]
    async with h.pool.acquire() as conn, conn.transaction():
        need = h.deps.need("consultation", with_room=False)
        key = calendar.need_key(need, 60)
        await calendar.lock_for_search(conn, key, list(need.clinicians), h.clock.now(), timedelta(days=2))
        assert await conn.fetchval("SHOW plan_cache_mode") == "auto"  # the caller's setting is its own


async def test_concurrent_bookings_and_moves_never_double_book(h: Harness) -> None:
    booked = [await consult(h) for _ in range(6)]
    free = await from_scratch(h)
    assert free is not None
    to_free = free.start
    moves = [changes.reschedule(h.units, h.deps, b["id"], to_free) for b in booked[:3]]
    outcomes = await asyncio.gather(*moves, *(consult(h) for _ in range(24)), return_exceptions=True)
    refused = [o for o in outcomes[:3] if isinstance(o, RuleViolation) and o.rule == "double_booking"]
    assert [o for o in outcomes if isinstance(o, BaseException) and o not in refused] == []
    rows = await h.pool.fetch(
        "SELECT clinician_id, during FROM appointments WHERE status = 'scheduled' ORDER BY lower(during)"
    )
    assert len(rows) == 30
    by_clinician: dict[str, list[asyncpg.Range]] = {}
    for r in rows:
        by_clinician.setdefault(r["clinician_id"], []).append(r["during"])
    for spans in by_clinician.values():
        for a, b in zip(spans, spans[1:], strict=False):
            assert a.upper <= b.lower  # no two of one clinician's appointments overlap


async def test_a_no_show_frees_the_rest_of_its_time(h: Harness) -> None:
    # 30-minute grid, 60-minute consultations: after a no-show at 15 minutes nothing of the slot can
    # be reused (it has started), but the search must not trust the old watermark either.
    first = await consult(h)
    generation = await h.pool.fetchval("SELECT generation FROM calendar_generation")
    await h.at(first["s"] + timedelta(minutes=16))  # the no-show timer fires
    status = await h.pool.fetchval("SELECT status FROM appointments WHERE id = $1", first["id"])
    assert status == "missed"
    assert await h.pool.fetchval("SELECT generation FROM calendar_generation") == generation + 1
    expected = await from_scratch(h)
    got = await consult(h)
    assert expected is not None and (got["clinician_id"], got["s"]) == (expected.clinician_id, expected.start)


async def test_restarting_with_a_clinic_file_drops_the_watermarks(h: Harness) -> None:
    await consult(h)
    before = await h.pool.fetchval("SELECT generation FROM calendar_generation")
    await h.deps.clinics.start(h.pool)  # a restart
    assert await h.pool.fetchval("SELECT generation FROM calendar_generation") == before + 1
    async with h.pool.acquire() as conn, conn.transaction():
        need = h.deps.need("consultation", with_room=False)
        key, now = calendar.need_key(need, 60), h.clock.now()
        locked = await calendar.lock_for_search(conn, key, list(need.clinicians), now, timedelta(days=2))
        assert (locked.generation, locked.mark) == (before + 1, None)
