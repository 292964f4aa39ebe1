"""Property-based tests (hypothesis) of the booking and cadence rules.

- Whatever is booked, moved or cancelled, no clinician and no room is ever double-booked, and every
  reservation lies inside opening hours and the patient's local hours.
- A simulated course — patients who attend, cancel or do not show, busy colleagues, integrations
  cancelled or missed — never has two doses on one day, keeps the protocol's spacing, and every dose
  is followed by an integration inside its window or by an IntegrationOverdue.

The simulation drives the same pure rules the services use (``first_reservation``, ``free_resources``,
``earliest_dose_start``, ``integration_window``, ``after_session``/``after_integration``) and models
the durable timers with a due-time queue.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from katflow_scheduling.domain.cadence import dose_day, earliest_dose_start, spacing_violation
from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.domain.course import CoursePlan, CourseStatus, after_integration, after_session
from katflow_scheduling.domain.integration import Window, integration_window
from katflow_scheduling.domain.reservations import Need, first_reservation, free_resources, outside_hours
from katflow_scheduling.domain.slots import Interval
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.treatment_protocols import Protocol, load_protocols

CLINIC = load_clinic(Path(DEFAULT_CLINIC))
BOOK = load_protocols()
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles"]
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # Monday 07:00 New York


def need(role: str, room: bool) -> Need:
    rooms = tuple(r.id for r in CLINIC.rooms) if room else ()
    return Need(tuple(c.id for c in CLINIC.clinicians_for(role)), rooms)


DOSING, INTEGRATION, CONSULTATION = (
    need("dosing", True),
    need("integration", False),
    need("consultation", False),
)


@dataclass
class Booked:
    clinician: str
    room: str | None
    start: datetime
    end: datetime
    zone: str
    live: bool = True
    extended_by: timedelta = timedelta(0)  # a late dose keeps room and clinician until monitoring ends


@dataclass
class Calendar:
    """Reservations in memory, with the reserving rule the database's exclusion constraints enforce."""

    booked: list[Booked] = field(default_factory=list)

    def busy(self, skip: Booked | None = None) -> dict[str, list[Interval]]:
        out: dict[str, list[Interval]] = {}
        for b in self.booked:
            if b.live and b is not skip:
                for r in (b.clinician, b.room):
                    if r:
                        out.setdefault(r, []).append(Interval(b.start, b.end))
        return out

    def book(
        self, n: Need, earliest: datetime, minutes: int, zone: str, latest: datetime | None = None
    ) -> Booked | None:
        r = first_reservation(CLINIC, n, self.busy(), earliest, timedelta(minutes=minutes), zone, latest)
        if r is None:
            return None
        self.booked.append(Booked(r.clinician_id, r.room_id, r.start, r.end, zone))
        return self.booked[-1]

    def move(self, b: Booked, n: Need, start: datetime) -> bool:
        end = start + (b.end - b.start)
        if outside_hours(CLINIC, start, end, b.zone):
            return False
        got = free_resources(n, self.busy(skip=b), Interval(start, end), prefer=(b.clinician, b.room))
        if got is None:
            return False
        b.clinician, b.room, b.start, b.end = got[0], got[1], start, end
        return True

    def assert_never_double_booked(self) -> None:
        live = [b for b in self.booked if b.live]
        for a, b in itertools.combinations(live, 2):
            shared = {a.clinician, a.room} & {b.clinician, b.room} - {None}
            assert not (shared and a.start < b.end and b.start < a.end), (a, b)
        for b in live:  # as booked: a hold extended for monitoring may run past closing time
            assert outside_hours(CLINIC, b.start, b.end - b.extended_by, b.zone) is None, b


KINDS = {"dosing": (DOSING, 115), "integration": (INTEGRATION, 60), "consultation": (CONSULTATION, 60)}
Op = tuple[Literal["book", "cancel", "move"], str, int, int, str]


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["book", "book", "book", "cancel", "move"]),
            st.sampled_from(sorted(KINDS)),
            st.integers(0, 14 * 24 * 2),  # half-hours from the start
            st.integers(0, 10_000),  # which earlier booking to cancel or move
            st.sampled_from(ZONES),
        ),
        max_size=60,
    )
)
def test_no_room_or_clinician_is_ever_double_booked(ops: list[Op]) -> None:
    cal = Calendar()
    kinds: list[str] = []
    for action, kind, half_hours, pick, zone in ops:
        at = START + timedelta(minutes=30 * half_hours)
        live = [i for i, b in enumerate(cal.booked) if b.live]
        if action == "book":
            n, minutes = KINDS[kind]
            if cal.book(n, at, minutes, zone) is not None:
                kinds.append(kind)
        elif live and action == "cancel":
            cal.booked[live[pick % len(live)]].live = False
        elif live:
            i = live[pick % len(live)]
            cal.move(cal.booked[i], KINDS[kinds[i]][0], at)
        cal.assert_never_double_booked()


# --- a whole course, simulated ---------------------------------------------------------------------

Outcome = Literal["attend", "no_show", "cancel", "forgotten"]  # forgotten: nobody rebooks until escalated


@dataclass
class Dose:
    number: int
    administered: datetime
    window: Window
    integration_start: datetime | None = None  # the integration that was held
    held_at: datetime | None = None
    overdue_at: datetime | None = None


@dataclass
class CourseSim:
    protocol: Protocol
    zone: str
    outcomes: list[Outcome]  # for successive appointments; 'attend' when exhausted
    delays: list[int]  # extra minutes before administration / discharge
    cal: Calendar
    now: datetime = START
    doses: list[Dose] = field(default_factory=list)
    queue: list[tuple[datetime, int, str, Callable[[], None]]] = field(default_factory=list)
    open_dose: Booked | None = None
    open_integration: Booked | None = None
    completed_at: datetime | None = None
    missed: int = 0
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def at(self, when: datetime, what: str, do: Callable[[], None]) -> None:
        heapq.heappush(self.queue, (when, next(self._seq), what, do))

    def outcome(self) -> Outcome:
        return self.outcomes.pop(0) if self.outcomes else "attend"

    def delay(self) -> timedelta:
        return timedelta(minutes=self.delays.pop(0) if self.delays else 0)

    def plan(self) -> CoursePlan:
        last = self.doses[-1] if self.doses else None
        return CoursePlan(
            id=None,  # type: ignore[arg-type]
            patient_id=None,  # type: ignore[arg-type]
            patient_time_zone=self.zone,
            status=CourseStatus.COMPLETED if self.completed_at else CourseStatus.DOSING,
            route=self.protocol.route,
            protocol_version=self.protocol.id,
            doses_given=len(self.doses),
            last_dose_at=last.administered if last else None,
            dose_days=frozenset(dose_day(d.administered, CLINIC.time_zone) for d in self.doses),
            integration_outstanding=any(d.held_at is None for d in self.doses),
            last_integration_held=bool(last and last.held_at),
            open_dosing=self.open_dose is not None,
        )

    # scheduling's reactions ------------------------------------------------------------------------
    def book_dose(self) -> None:
        number = len(self.doses) + 1
        cadence = earliest_dose_start(self.protocol, number, self.plan().last_dose_at, CLINIC.time_zone)
        earliest = max(self.now + timedelta(hours=CLINIC.booking_lead_hours), cadence or self.now)
        booked = self.cal.book(DOSING, earliest, self.protocol.dosing.reserved_minutes, self.zone)
        assert booked is not None, "the horizon is long enough"
        self.open_dose = booked
        self.at(booked.start, "dose", lambda: self.visit_dose(booked))

    def visit_dose(self, appt: Booked) -> None:
        outcome = self.outcome()
        if outcome != "attend":  # a cancellation (earlier) or a no-show: freed, staff rebook later
            appt.live, self.open_dose = False, None
            self.missed += 1
            return self.book_dose()
        administered = appt.start + timedelta(minutes=self.protocol.dosing.pre_dose_minutes) + self.delay()
        monitoring = timedelta(minutes=self.protocol.dosing.monitoring_minutes)
        monitored = administered + monitoring
        if monitored > appt.end:  # scheduling extends the hold (refused when it would double-book)
            same = Need((appt.clinician,), (appt.room,) if appt.room else ())
            if free_resources(same, self.cal.busy(skip=appt), Interval(appt.start, monitored)) is None:
                administered, monitored = appt.start + (appt.end - appt.start - monitoring), appt.end
            appt.extended_by, appt.end = monitored - appt.end, monitored
        discharged = monitored + self.delay()
        dose = Dose(
            len(self.doses) + 1, administered, integration_window(self.protocol, administered, discharged)
        )
        self.doses.append(dose)
        self.open_dose, self.now = None, discharged
        self.at(dose.window.closes_at, "overdue", lambda: self.overdue(dose))  # durable timer
        self.book_integration(dose)
        if after_session(self.protocol, self.plan()) == "book_next_dose":
            self.book_dose()

    def book_integration(self, dose: Dose) -> None:
        late = self.now >= dose.window.closes_at
        lead = timedelta(minutes=self.protocol.integration.booking_lead_minutes)
        earliest = max(dose.window.opens_at, self.now + lead)
        minutes = self.protocol.integration.session_minutes
        booked = self.cal.book(
            INTEGRATION, earliest, minutes, self.zone, None if late else dose.window.closes_at
        )
        if booked is not None:
            self.open_integration = booked
            self.at(booked.start, "integration", lambda: self.visit_integration(dose, booked))

    def visit_integration(self, dose: Dose, appt: Booked) -> None:
        self.open_integration = None
        outcome = self.outcome()
        if outcome != "attend":
            appt.live = False
            self.missed += 1
            if outcome != "forgotten" or self.now >= dose.window.closes_at:
                self.book_integration(dose)  # staff rebook: inside the window, else a catch-up
            return None
        dose.integration_start, dose.held_at = appt.start, appt.end
        self.now = appt.end  # staff complete it when it ends
        step = after_integration(self.protocol, self.plan())
        if step == "complete_course":
            self.completed_at = self.now
        elif step == "book_next_dose":
            self.book_dose()

    def overdue(self, dose: Dose) -> None:
        if dose.held_at is None or dose.held_at > dose.window.closes_at:
            dose.overdue_at = (
                dose.window.closes_at
            )  # IntegrationOverdue.window_closed_at = the timer's due time
            if self.open_integration is None and dose.held_at is None:
                self.book_integration(dose)  # catch-up after the escalation

    def run(self) -> None:
        self.book_dose()
        while self.queue and self.completed_at is None:
            when, _, _, do = heapq.heappop(self.queue)
            self.now = max(self.now, when)
            do()


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["iv@1", "intranasal@1", "oral@1", "im@1"]),
    st.sampled_from(ZONES),
    st.lists(st.sampled_from(["attend", "attend", "no_show", "cancel", "forgotten"]), max_size=40),
    st.lists(st.integers(0, 90), max_size=20),
    st.lists(st.tuples(st.integers(0, 14 * 24), st.integers(1, 8)), max_size=25),
)
def test_a_course_keeps_cadence_and_every_dose_gets_integration_or_overdue(
    protocol_id: str,
    zone: str,
    outcomes: list[Outcome],
    delays: list[int],
    colleagues: list[tuple[int, int]],
) -> None:
    cal = Calendar()
    for hour, hours in colleagues:  # other patients' bookings keep people and rooms busy
        cal.book(DOSING, START + timedelta(hours=hour), 60 * hours, "America/New_York")
    sim = CourseSim(BOOK.get(protocol_id), zone, list(outcomes), list(delays), cal)
    sim.run()

    protocol = sim.protocol
    assert sim.completed_at is not None, "every simulated course completes"
    assert [d.number for d in sim.doses] == list(range(1, protocol.total_doses + 1))
    days = [dose_day(d.administered, CLINIC.time_zone) for d in sim.doses]
    assert len(set(days)) == len(days), "never two doses on one day"
    for prev, dose in zip(sim.doses, sim.doses[1:], strict=False):
        earlier: set[date] = {
            dose_day(d.administered, CLINIC.time_zone) for d in sim.doses if d.number < dose.number
        }
        assert (
            spacing_violation(
                protocol, dose.number, dose.administered, prev.administered, earlier, CLINIC.time_zone
            )
            is None
        )
    for dose in sim.doses:
        in_window = (
            dose.integration_start is not None
            and dose.held_at is not None
            and dose.window.holds(dose.integration_start, dose.held_at)
        )
        assert in_window or dose.overdue_at == dose.window.closes_at, dose
        assert not (in_window and dose.overdue_at), "no escalation for an integration held in time"
    assert sim.doses[-1].held_at is not None and sim.completed_at >= sim.doses[-1].held_at
    cal.assert_never_double_booked()
    event(f"integrations overdue: {sum(d.overdue_at is not None for d in sim.doses) > 0}")
    event(f"appointments missed or cancelled: {sim.missed > 0}")
