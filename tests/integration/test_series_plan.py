"""Series planning against a real PostgreSQL: a dosing phase is planned when it starts, each dose is
booked on its planned day, and a dose that cannot keep its window is booked on the nearest day with
``CadenceStretched`` saying why (scheduling's service layer in-process, events fed back from the
outbox as its consumer would)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.domain.visits import Discharge
from katflow_scheduling.service_layer import changes, visits
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts.common import CancellationReason
from tests.support.infra import Infra
from tests.support.scheduling import STAFF, Harness, harness

ZONE = ZoneInfo(load_clinic(DEFAULT_CLINIC).time_zone)
DISCHARGE = Discharge.model_validate(
    {
        "vitals": {"post_dose_bp": {"systolic": 130, "diastolic": 82}},
        "discharge_assessment_passed": True,
    }
)


def day_of(at: datetime) -> date:
    return at.astimezone(ZONE).date()


async def planned(h: Harness, course: uuid.UUID) -> dict[int, date]:
    rows = await h.pool.fetch("SELECT dose_number, planned_day FROM dose_plans WHERE course_id = $1", course)
    return {r["dose_number"]: r["planned_day"] for r in rows}


async def dose_and_integrate(h: Harness, course: uuid.UUID) -> date:
    """Give the open dose, discharge at the end of monitoring, hold its integration; the dose's day."""
    appt, given = await h.give_dose(course)
    await h.at(given + timedelta(minutes=h.deps.protocols.get("intranasal@1").dosing.monitoring_minutes))
    await visits.record_session(h.units, h.deps, appt, DISCHARGE, STAFF)
    await h.pump()
    integration = await h.open(course, "integration")
    await h.at(integration["starts_at"])
    await visits.complete(h.units, integration["id"], "ther-1")
    await h.pump()
    return day_of(given)


def stretched(h: Harness) -> list[dict[str, object]]:
    return [data for name, data in h.events if name == "CadenceStretched"]


async def test_the_phase_is_planned_when_it_starts_and_each_dose_is_booked_on_its_planned_day(
    h: Harness,
) -> None:
    course = await h.prepared_course("intranasal")
    plan = await planned(h, course)
    assert sorted(plan) == list(range(1, 9))  # the induction phase; optimisation is planned when it starts
    days = [plan[n] for n in range(1, 9)]
    assert all(3 <= (b - a).days <= 4 for a, b in zip(days, days[1:], strict=False)), days
    assert all(d.weekday() < 5 for d in days), days
    for number in (1, 2, 3):
        assert day_of((await h.open(course, "dosing"))["starts_at"]) == plan[number]
        await dose_and_integrate(h, course)
    assert await planned(h, course) == plan  # kept: nothing moved
    assert stretched(h) == []


async def test_where_no_plan_fits_the_dose_goes_on_the_nearest_day_and_the_care_team_is_told(
    infra: Infra,
) -> None:
    """Open Mondays and Wednesdays only: twice weekly (3–4 days) cannot fit."""
    base = load_clinic(DEFAULT_CLINIC)
    hours = {day: (time(9), time(17)) for day in ("mon", "wed")}
    async with harness(infra, base.model_copy(update={"opening_hours": hours})) as h:
        course = await h.prepared_course("intranasal")
        plan = await planned(h, course)
        first = await dose_and_integrate(h, course)
        booked = day_of((await h.open(course, "dosing"))["starts_at"])
        assert booked == plan[2] and booked.weekday() in (0, 2) and (booked - first).days > 4
        [event] = stretched(h)
        assert event["dose_number"] == 2 and event["reason"] == "no_free_day"
        assert (event["planned_day"], event["booked_day"]) == (plan[2].isoformat(), booked.isoformat())
        assert (event["gap_days"], event["max_days_between"]) == ((booked - first).days, 4)


async def test_a_dose_staff_book_past_the_window_is_reported_as_their_choice(h: Harness) -> None:
    course = await h.prepared_course("intranasal")
    first = await dose_and_integrate(h, course)
    plan = await planned(h, course)
    auto = await h.open(course, "dosing")
    await changes.cancel(h.units, auto["id"], CancellationReason.PATIENT_REQUEST, STAFF)
    late = datetime.combine(first + timedelta(days=7), time(10), ZONE)
    late += timedelta(days=(7 - late.weekday()) % 7 if late.weekday() >= 5 else 0)  # a weekday
    await changes.book_dose(h.units, h.deps, course, late)
    await h.pump()
    [event] = stretched(h)
    assert event["reason"] == "requested_by_staff" and event["booked_day"] == late.date().isoformat()
    assert event["planned_day"] == plan[2].isoformat()
    # the rest of the phase is planned again from the day it was booked on
    again = await planned(h, course)
    assert again[3] > late.date() and 3 <= (again[3] - late.date()).days <= 4
