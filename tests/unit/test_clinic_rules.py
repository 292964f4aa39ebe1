"""The clinic's closures, time off and room capabilities in the booking rules (pure), and the staff
alert for an appointment a clinic change could not move."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from katflow_notifications.domain.intents import intents_for
from katflow_notifications.domain.templates import default_registry
from katflow_scheduling.domain.clinic import ClinicConfig, Clinician, TimeOff, load_clinic
from katflow_scheduling.domain.reservations import (
    Need,
    first_reservation,
    free_days,
    outside_hours,
    still_holds,
)
from katflow_scheduling.domain.slots import candidate_starts
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts import AppointmentDisplaced
from katflow_shared.contracts.common import AppointmentKind, ClinicChange
from tests.support.rendering import render_env

CLINIC = load_clinic(DEFAULT_CLINIC)
MONDAY_NOON_UTC = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 07:00 in New York
TUESDAY, WEDNESDAY = date(2026, 12, 1), date(2026, 12, 2)
HOUR = timedelta(hours=1)
NY = "America/New_York"


def away(clinic: ClinicConfig, clinician_id: str, first: date, last: date) -> ClinicConfig:
    def off(c: Clinician) -> Clinician:
        extra = [TimeOff(id=uuid.uuid4(), first_day=first, last_day=last)] if c.id == clinician_id else []
        return c.model_copy(update={"time_off": c.time_off + extra})

    return clinic.model_copy(update={"clinicians": [off(c) for c in clinic.clinicians]})


def test_a_closed_day_has_no_slots_and_refuses_a_requested_time() -> None:
    closed = CLINIC.model_copy(update={"closures": {TUESDAY: "holiday"}})
    days = {s.date() for s in candidate_starts(closed, MONDAY_NOON_UTC, HOUR)}
    assert TUESDAY not in days and WEDNESDAY in days
    tuesday_ten = datetime(2026, 12, 1, 15, tzinfo=UTC)  # 10:00 New York
    assert outside_hours(closed, tuesday_ten, tuesday_ten + HOUR, NY) == "clinic_closed"
    assert not still_holds(closed, "consultation", "clin-1", tuesday_ten, tuesday_ten + HOUR)
    need = Need(("clin-1",))
    assert TUESDAY not in free_days(closed, need, {}, MONDAY_NOON_UTC, HOUR, NY)  # series planning too


def test_a_clinician_on_time_off_is_not_booked_but_others_are() -> None:
    clinic = away(CLINIC, "clin-1", TUESDAY, TUESDAY)
    only = first_reservation(clinic, Need(("clin-1",)), {}, MONDAY_NOON_UTC + 20 * HOUR, HOUR, NY)
    assert only is not None and only.start.date() == WEDNESDAY
    either = first_reservation(clinic, Need(("clin-1", "clin-2")), {}, MONDAY_NOON_UTC + 20 * HOUR, HOUR, NY)
    assert either is not None and (either.clinician_id, either.start.date()) == ("clin-2", TUESDAY)
    tuesday_ten = datetime(2026, 12, 1, 15, tzinfo=UTC)
    assert not clinic.works("clin-1", tuesday_ten, tuesday_ten + HOUR)
    assert still_holds(clinic, "consultation", "clin-2", tuesday_ten, tuesday_ten + HOUR)


def test_rooms_are_chosen_by_capability() -> None:
    rooms = [r.model_copy(update={"capabilities": ["recliner"]}) for r in CLINIC.rooms]
    rooms[2] = rooms[2].model_copy(update={"capabilities": ["iv_pump", "recliner"]})
    clinic = CLINIC.model_copy(update={"rooms": rooms})
    assert [r.id for r in clinic.rooms_with(["iv_pump"])] == ["room-3"]
    assert len(clinic.rooms_with(["recliner"])) == 3 and clinic.rooms_with(["oxygen"]) == []


def test_an_appointment_that_could_not_be_moved_alerts_the_care_team() -> None:
    event = AppointmentDisplaced(
        appointment_id=uuid.uuid4(),
        course_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        kind=AppointmentKind.DOSING,
        starts_at=datetime(2026, 12, 1, 15, tzinfo=UTC),
        cause=ClinicChange.TIME_OFF,
        displaced_at=MONDAY_NOON_UTC,
    )
    [intent] = intents_for(event, MONDAY_NOON_UTC, lambda _v: None)
    assert (intent.notification, intent.audience) == ("appointment_displaced", "staff")
    template = default_registry("en").latest("appointment_displaced", "staff", "email", "en")
    assert template is not None
    text = template.render(dict(intent.facts), render_env("en", NY)).text
    assert (
        "A dosing appointment at Tuesday 1 December 2026 at 10:00 EST falls on the clinician's time off"
        in text
    )
    assert str(event.appointment_id) in text and str(event.patient_id) not in text
