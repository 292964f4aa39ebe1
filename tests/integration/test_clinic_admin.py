"""Clinic administration against a real PostgreSQL, through the admin API in-process (scheduling's
service layer with a FixedClock, events read from the outbox): time off and closures move what was
booked then or report it to staff, a closed day is never booked, a new room is used by the next
booking, every change is in force at once — in the process that made it and, under the calendar
lock, in any other — and only admins may change anything."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from katflow_scheduling.adapters.postgres_courses import ensure_course, load_plan
from katflow_scheduling.domain.clinic import ClinicConfig, load_clinic
from katflow_scheduling.entrypoints import http_admin
from katflow_scheduling.service_layer import booking
from katflow_scheduling.service_layer.clinics import ClinicChanged, Clinics
from katflow_scheduling.service_layer.deps import Deps
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.auth import Authenticator
from katflow_shared.errors import RuleViolation
from katflow_shared.http import rule_violation_handler, validation_error_handler
from katflow_shared.roles import ApiKey, Role, hash_api_key
from tests.support.infra import Infra
from tests.support.scheduling import Harness, harness

SEED = load_clinic(DEFAULT_CLINIC)
ZONE = ZoneInfo(SEED.time_zone)
KEYS = {"admin": "kfk_test_admin_key", "clinician": "kfk_test_clinician_key"}


def one_dosing_clinician(clinic: ClinicConfig = SEED) -> ClinicConfig:
    """clin-1 is the only clinician who doses (clin-2 is left out)."""
    return clinic.model_copy(update={"clinicians": [c for c in clinic.clinicians if c.id != "clin-2"]})


def api(h: Harness) -> httpx.AsyncClient:
    """The admin router on the harness's service layer, with an admin and a clinician key."""
    keys = {
        hash_api_key(KEYS["admin"]): ApiKey(name="admin-1", roles=[Role.ADMIN]),
        hash_api_key(KEYS["clinician"]): ApiKey(name="clin-1", roles=[Role.CLINICIAN]),
    }
    settings = h.runtime.settings.model_copy(update={"api_keys": keys})
    app = FastAPI()
    app.include_router(http_admin.router)
    app.add_exception_handler(RuleViolation, rule_violation_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.state.deps, app.state.runtime = h.deps, h.runtime
    app.state.katflow_auth = Authenticator(settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://scheduling")


def admin(role: str = "admin") -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


@pytest.fixture
async def one(infra: Infra) -> AsyncIterator[Harness]:
    async with harness(infra, one_dosing_clinician()) as built:
        yield built


def day_of(at: datetime) -> date:
    return at.astimezone(ZONE).date()


def named(h: Harness, name: str) -> list[dict[str, Any]]:
    return [data for kind, data in h.events if kind == name]


async def consult(h: Harness, deps: Deps | None = None) -> datetime:
    """Book a consultation the way ConsultationRequested does; its start."""
    course_id = uuid.uuid4()
    async with h.units.start() as uow:
        await ensure_course(uow.conn, course_id, uuid.uuid4(), "America/New_York")
        plan = await load_plan(uow.conn, course_id)
        found = await booking.book_consultation(uow, deps or h.deps, plan, str(uuid.uuid4()))
    assert found is not None
    return found.start


async def test_a_clinicians_day_off_moves_the_doses_booked_that_day(one: Harness) -> None:
    h = one
    course = await h.prepared_course("iv")
    dose = await h.open(course, "dosing")
    day = day_of(dose["starts_at"])
    async with api(h) as client:
        r = await client.post(
            "/v1/admin/clinicians/clin-1/time-off",
            json={"first_day": day.isoformat(), "last_day": day.isoformat()},
            headers=admin(),
        )
    assert r.status_code == 201, r.text
    [moved] = r.json()["affected"]
    assert (moved["appointment_id"], moved["outcome"]) == (str(dose["id"]), "moved")
    await h.pump()
    [event] = named(h, "AppointmentRescheduled")
    assert event["appointment_id"] == str(dose["id"])
    now = await h.open(course, "dosing")
    assert now["id"] == dose["id"] and day_of(now["starts_at"]) > day
    assert datetime.fromisoformat(event["starts_at"]) == now["starts_at"]
    [added] = named(h, "TimeOffAdded")
    assert (added["clinician_id"], added["moved"], added["displaced"]) == ("clin-1", 1, 0)
    no_show = await h.pool.fetchval("SELECT due_at FROM timers WHERE kind = 'no_show' AND status = 'pending'")
    assert no_show > now["starts_at"]  # the no-show timer moved with it
    # and nothing is booked for clin-1 on that day afterwards
    second = await h.prepared_course("iv")
    assert day_of((await h.open(second, "dosing"))["starts_at"]) != day


async def test_a_dose_that_cannot_move_stays_and_staff_are_alerted(one: Harness) -> None:
    h = one
    course = await h.prepared_course("iv")
    dose = await h.open(course, "dosing")
    day = day_of(dose["starts_at"])
    away = {"first_day": day.isoformat(), "last_day": (day + timedelta(days=200)).isoformat()}
    async with api(h) as client:
        r = await client.post("/v1/admin/clinicians/clin-1/time-off", json=away, headers=admin())
    assert r.status_code == 201, r.text
    assert [a["outcome"] for a in r.json()["affected"]] == ["displaced"]
    await h.pump()
    [alert] = named(h, "AppointmentDisplaced")
    assert (alert["appointment_id"], alert["cause"], alert["kind"]) == (str(dose["id"]), "time_off", "dosing")
    assert named(h, "AppointmentRescheduled") == []
    assert (await h.open(course, "dosing"))["starts_at"] == dose["starts_at"]  # left for staff


async def test_time_off_gives_the_dose_to_another_clinician_at_the_same_time(h: Harness) -> None:
    course = await h.prepared_course("iv")
    dose = await h.pool.fetchrow(
        "SELECT id, clinician_id, lower(during) AS s FROM appointments WHERE course_id = $1", course
    )
    day = day_of(dose["s"]).isoformat()
    async with api(h) as client:
        r = await client.post(
            f"/v1/admin/clinicians/{dose['clinician_id']}/time-off",
            json={"first_day": day, "last_day": day},
            headers=admin(),
        )
    [changed] = r.json()["affected"]
    assert changed["outcome"] == "reassigned" and changed["clinician_id"] != dose["clinician_id"]
    now = await h.pool.fetchrow(
        "SELECT clinician_id, lower(during) AS s FROM appointments WHERE id = $1", dose["id"]
    )
    assert (now["s"], now["clinician_id"]) == (dose["s"], changed["clinician_id"])
    await h.pump()
    assert named(h, "AppointmentRescheduled") == []  # same time: nothing changes for the patient


async def test_a_closure_day_is_never_booked(h: Harness) -> None:
    first = await consult(h)
    closed = day_of(first)
    async with api(h) as client:
        r = await client.post(
            "/v1/admin/closures", json={"day": closed.isoformat(), "label": "holiday"}, headers=admin()
        )
        assert r.status_code == 201, r.text
        assert [a["outcome"] for a in r.json()["affected"]] == ["moved"]
        again = await client.post("/v1/admin/closures", json={"day": closed.isoformat()}, headers=admin())
        assert (again.status_code, again.json()["detail"][0]["type"]) == (409, "already_closed")
    starts = [await consult(h) for _ in range(30)]
    assert all(day_of(s) != closed for s in starts)
    moved = await h.pool.fetchval(
        "SELECT count(*) FROM appointments WHERE status = 'scheduled'"
        " AND (lower(during) AT TIME ZONE $1)::date = $2",
        SEED.time_zone,
        closed,
    )
    assert moved == 0
    # series planning skips it too: a course starting now plans no dose on the closed day
    course = await h.prepared_course("intranasal")
    planned = {
        r["planned_day"]
        for r in await h.pool.fetch("SELECT planned_day FROM dose_plans WHERE course_id = $1", course)
    }
    assert planned and closed not in planned
    await h.pump()
    [added] = named(h, "ClosureAdded")
    assert (added["day"], added["moved"], added["displaced"]) == (closed.isoformat(), 1, 0)


async def test_another_process_never_books_with_the_clinic_it_had(h: Harness) -> None:
    """A replica whose snapshot predates a change (its NOTIFY not yet arrived) is stopped under the
    calendar lock: it takes the new clinic and decides again."""
    other = Deps(Clinics(h.deps.clinic, h.deps.clinics.version), h.deps.protocols, h.clock)
    first = await consult(h)
    async with api(h) as client:
        r = await client.post("/v1/admin/closures", json={"day": day_of(first).isoformat()}, headers=admin())
    assert r.status_code == 201
    assert day_of(first) not in other.clinic.closures
    with pytest.raises(ClinicChanged):
        await consult(h, other)
    assert day_of(first) in other.clinic.closures  # taken on the way
    assert day_of(await consult(h, other)) != day_of(first)


async def test_a_new_room_with_a_capability_is_used_by_the_next_booking(h: Harness) -> None:
    iv = h.deps.protocols.get("iv@1")
    needs_pump = iv.dosing.model_copy(update={"room_capabilities": ["iv_pump"]})
    h.deps.protocols.protocols["iv@1"] = iv.model_copy(update={"dosing": needs_pump})
    waiting = await h.prepared_course("iv")
    assert [e["course_id"] for e in named(h, "AppointmentWaitlisted")] == [str(waiting)]  # no room has one
    async with api(h) as client:
        r = await client.put(
            "/v1/admin/rooms/room-iv",
            json={"display_name": "IV room", "capabilities": ["iv_pump", "recliner"]},
            headers=admin(),
        )
        assert r.status_code == 201, r.text
        listed = (await client.get("/v1/admin/rooms", headers=admin())).json()
    assert {"id": "room-iv", "display_name": "IV room", "capabilities": ["iv_pump", "recliner"]} in listed
    await h.advance(timedelta(seconds=1))  # the change woke the waiting dose: it looks now
    room = await h.pool.fetchval("SELECT room_id FROM appointments WHERE course_id = $1", waiting)
    assert room == "room-iv"
    course = await h.prepared_course("iv")  # and the next booking too
    room = await h.pool.fetchval("SELECT room_id FROM appointments WHERE course_id = $1", course)
    assert room == "room-iv"
    await h.pump()
    assert [e["room_id"] for e in named(h, "RoomUpdated")] == ["room-iv"]


async def test_clinicians_and_opening_hours_change_at_once(one: Harness) -> None:
    h = one
    async with api(h) as client:
        body = {
            "display_name": "Clinician 9",
            "roles": ["consultation", "dosing"],
            "qualifications": ["iv_certified"],
        }
        r = await client.put("/v1/admin/clinicians/clin-9", json=body, headers=admin())
        assert r.status_code == 201, r.text
        updated = await client.put(
            "/v1/admin/clinicians/clin-9", json={**body, "roles": ["dosing"]}, headers=admin()
        )
        assert updated.status_code == 200
        hours = {day: ["10:00", "16:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
        r = await client.put("/v1/admin/opening-hours", json={"opening_hours": hours}, headers=admin())
        assert r.status_code == 200, r.text
        clinic = (await client.get("/v1/admin/clinic", headers=admin())).json()
        for bad in (
            {"mon": ["16:00", "10:00"]},
            {"mon": ["10:00+01:00", "16:00"]},
            {"xyz": ["10:00", "16:00"]},
        ):
            refused = await client.put(
                "/v1/admin/opening-hours", json={"opening_hours": bad}, headers=admin()
            )
            assert refused.status_code == 422, bad
    assert clinic["opening_hours"]["mon"] == ["10:00", "16:00"]
    assert h.deps.need("dosing", with_room=False).clinicians == ("clin-1", "clin-9")
    start = await consult(h)
    assert start.astimezone(ZONE).hour >= 10
    await h.pump()
    assert [e["created"] for e in named(h, "ClinicianUpdated")] == [True, False]
    assert len(named(h, "OpeningHoursChanged")) == 1


async def test_only_admins_change_the_clinic(h: Harness) -> None:
    closure = {"day": "2099-01-01"}
    async with api(h) as client:
        refused = await client.post("/v1/admin/closures", json=closure, headers=admin("clinician"))
        anonymous = await client.get("/v1/admin/clinicians")
        named_actor = await client.post(
            "/v1/admin/closures", json={**closure, "added_by": "x"}, headers=admin()
        )
        listed = await client.get("/v1/admin/protocols", headers=admin())
        one = await client.get("/v1/admin/protocols/iv@1", headers=admin())
        missing = await client.get("/v1/admin/protocols/iv@99", headers=admin())
    assert (refused.status_code, anonymous.status_code, named_actor.status_code) == (403, 401, 422)
    assert await h.pool.fetchval("SELECT count(*) FROM closures") == 0
    assert {"id": "iv@1", "route": "iv", "version": 1, "current": True} in listed.json()
    assert (one.json()["id"], one.json()["protocol"]["route"], missing.status_code) == ("iv@1", "iv", 404)


async def test_a_need_built_before_a_change_is_read_again_under_the_lock(h: Harness) -> None:
    """A booking whose need was built just before an admin's change (same process, awaiting
    between the two) books with the clinic as it stands under the calendar lock."""
    stale = h.deps.need("consultation", with_room=False)
    assert "clin-1" in stale.clinicians
    async with api(h) as client:
        body = {"display_name": "Clinician 1", "roles": ["dosing"]}  # no longer consults
        r = await client.put("/v1/admin/clinicians/clin-1", json=body, headers=admin())
        assert r.status_code == 200, r.text
    for _ in range(4):
        course_id = uuid.uuid4()
        async with h.units.start() as uow:
            await ensure_course(uow.conn, course_id, uuid.uuid4(), "America/New_York")
            plan = await load_plan(uow.conn, course_id)
            fields = {"course_id": course_id, "kind": "consultation", "cause_event": str(uuid.uuid4())}
            earliest = h.clock.now() + timedelta(hours=24)
            req = booking.Request(fields, stale, timedelta(minutes=60), earliest)
            found = await booking.book(uow, h.deps, plan, req)
        assert found is not None and found.clinician_id != "clin-1"


PUMP = {"display_name": "IV room", "capabilities": ["iv_pump", "recliner"]}
NO_PUMP = {"display_name": "IV room", "capabilities": ["recliner"]}


def iv_needs_a_pump(h: Harness) -> None:
    iv = h.deps.protocols.get("iv@1")
    needs_pump = iv.dosing.model_copy(update={"room_capabilities": ["iv_pump"]})
    h.deps.protocols.protocols["iv@1"] = iv.model_copy(update={"dosing": needs_pump})


async def booked_in(h: Harness, course: uuid.UUID) -> Any:
    return await h.pool.fetchrow(
        "SELECT id, room_id, clinician_id, lower(during) AS s FROM appointments"
        " WHERE course_id = $1 AND kind = 'dosing' AND status = 'scheduled'",
        course,
    )


async def put_room(client: httpx.AsyncClient, room_id: str, room: dict[str, Any], status: int) -> None:
    """An admin adds (201) or updates (200) a room."""
    r = await client.put(f"/v1/admin/rooms/{room_id}", json=room, headers=admin())
    assert r.status_code == status, r.text


async def a_dose_in_the_only_pump_room(h: Harness, client: httpx.AsyncClient) -> Any:
    """iv@1 needs an iv_pump; room-iv, the only room with one, is added; an IV dose is booked in it."""
    iv_needs_a_pump(h)
    await put_room(client, "room-iv", PUMP, 201)
    dose = await booked_in(h, await h.prepared_course("iv"))
    assert dose["room_id"] == "room-iv"
    return dose


async def test_a_room_losing_a_capability_gives_its_doses_another_room_with_it(h: Harness) -> None:
    async with api(h) as client:
        dose = await a_dose_in_the_only_pump_room(h, client)
        await put_room(client, "room-iv2", {**PUMP, "display_name": "IV 2"}, 201)
        await put_room(client, "room-iv", NO_PUMP, 200)
    now = await h.pool.fetchrow(
        "SELECT room_id, clinician_id, lower(during) AS s FROM appointments WHERE id = $1", dose["id"]
    )
    assert (now["room_id"], now["clinician_id"], now["s"]) == ("room-iv2", dose["clinician_id"], dose["s"])
    await h.pump()
    assert named(h, "AppointmentRescheduled") == [] and named(h, "AppointmentDisplaced") == []
    last = named(h, "RoomUpdated")[-1]
    assert (last["room_id"], last["created"], last["moved"], last["displaced"]) == ("room-iv", False, 1, 0)


async def test_a_room_losing_a_capability_moves_a_dose_when_no_other_room_is_free(h: Harness) -> None:
    async with api(h) as client:
        dose = await a_dose_in_the_only_pump_room(h, client)
        await put_room(client, "room-iv2", {**PUMP, "display_name": "IV 2"}, 201)
        other = await booked_in(h, await h.prepared_course("iv"))  # the other dosing clinician, same time
        assert (other["room_id"], other["s"]) == ("room-iv2", dose["s"])
        await h.pump()
        await put_room(client, "room-iv", NO_PUMP, 200)
    now = await h.pool.fetchrow(
        "SELECT room_id, lower(during) AS s FROM appointments WHERE id = $1", dose["id"]
    )
    assert now["room_id"] == "room-iv2" and now["s"] > dose["s"]
    await h.pump()
    [event] = named(h, "AppointmentRescheduled")
    assert event["appointment_id"] == str(dose["id"])
    assert datetime.fromisoformat(event["starts_at"]) == now["s"]
    assert named(h, "AppointmentDisplaced") == []
    last = named(h, "RoomUpdated")[-1]
    assert (last["room_id"], last["moved"], last["displaced"]) == ("room-iv", 1, 0)
    no_show = await h.pool.fetchval(
        "SELECT due_at FROM timers WHERE kind = 'no_show' AND status = 'pending' AND due_at > $1"
        " ORDER BY due_at DESC LIMIT 1",
        dose["s"],
    )
    assert no_show is not None and no_show > now["s"]  # the no-show timer moved with it


async def test_a_dose_left_without_any_room_with_the_capability_is_reported(h: Harness) -> None:
    async with api(h) as client:
        dose = await a_dose_in_the_only_pump_room(h, client)
        await put_room(client, "room-iv", NO_PUMP, 200)
    now = await h.pool.fetchrow(
        "SELECT room_id, lower(during) AS s FROM appointments WHERE id = $1", dose["id"]
    )
    assert (now["room_id"], now["s"]) == ("room-iv", dose["s"])  # left for staff
    await h.pump()
    [alert] = named(h, "AppointmentDisplaced")
    assert (alert["appointment_id"], alert["cause"], alert["kind"]) == (
        str(dose["id"]),
        "room_changed",
        "dosing",
    )
    assert named(h, "AppointmentRescheduled") == []
    last = named(h, "RoomUpdated")[-1]
    assert (last["room_id"], last["moved"], last["displaced"]) == ("room-iv", 0, 1)
