"""The course's pure rules: screening, eligibility, checklist, cadence, windows, visit checks, next steps."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import katflow_scheduling
from katflow_intake.domain.preparation import Checklist, check_baseline, check_consent, missing
from katflow_intake.domain.screening import EligibilityIn, ScreeningIn, assess, check_decision
from katflow_intake.entrypoints.bodies import BaselineIn, ConsentIn
from katflow_scheduling.domain.appointments import (
    RESERVING,
    Appointment,
    Status,
    check_in_allowed,
    complete_allowed,
    no_show_allowed,
)
from katflow_scheduling.domain.cadence import (
    check_dose_cadence,
    earliest_dose_start,
    require_future,
    spacing_violation,
)
from katflow_scheduling.domain.clinic import load_clinic
from katflow_scheduling.domain.course import (
    CoursePlan,
    CourseStatus,
    after_integration,
    after_session,
    require_dosing_open,
)
from katflow_scheduling.domain.integration import integration_window, monitoring_prompts
from katflow_scheduling.domain.reservations import Need, first_reservation
from katflow_scheduling.domain.visits import Discharge, DosingCheckIn, check_discharge, check_dosing_check_in
from katflow_scheduling.settings import DEFAULT_CLINIC
from katflow_shared.contracts.common import AppointmentKind, EligibilityOutcome, MonitoringCheck, Route
from katflow_shared.errors import RuleViolation
from katflow_shared.treatment_protocols import load_protocols

BOOK = load_protocols()
IV, NASAL, ORAL = BOOK.get("iv@1"), BOOK.get("intranasal@1"), BOOK.get("oral@1")
NY = "America/New_York"
T = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday 10:00 New York


def rule(fn: Any, *args: Any) -> str:
    with pytest.raises(RuleViolation) as exc:
        fn(*args)
    return exc.value.rule


def screening(**changes: Any) -> ScreeningIn:
    body: dict[str, Any] = {
        "phq9": 18,
        "cssrs": {"wish_to_be_dead": True, "suicidal_thoughts": False, "behaviour_past_3_months": False},
        "blood_pressure": {"systolic": 120, "diastolic": 80},
    }
    return ScreeningIn.model_validate({**body, **changes})


def eligible(**changes: Any) -> EligibilityIn:
    return EligibilityIn.model_validate({"outcome": "eligible", "route": "iv", **changes})


# --- screening and eligibility -------------------------------------------------------------------


@pytest.mark.parametrize(
    "cssrs",
    [
        {"intent": True},
        {"intent_with_plan": True},
        {"behaviour_past_3_months": True},
    ],
)
def test_high_risk_cssrs_is_intent_plan_or_recent_behaviour(cssrs: dict[str, bool]) -> None:
    answers = {"wish_to_be_dead": True, "suicidal_thoughts": True, "behaviour_past_3_months": False, **cssrs}
    assert assess(screening(cssrs=answers), BOOK.screening).high_risk


def test_ideation_without_intent_is_not_high_risk_but_flagged_when_a_method_is_named() -> None:
    answers = {
        "wish_to_be_dead": True,
        "suicidal_thoughts": True,
        "thoughts_with_method": True,
        "behaviour_past_3_months": False,
    }
    a = assess(screening(cssrs=answers), BOOK.screening)
    assert not a.high_risk and a.review_flags == ["cssrs_ideation_with_method"]


def test_blocking_contraindications_and_review_flags() -> None:
    a = assess(
        screening(
            contraindications=["arteriovenous_malformation", "pregnancy"],
            blood_pressure={"systolic": 165, "diastolic": 90},
        ),
        BOOK.screening,
    )
    assert [c.value for c in a.blocking] == ["arteriovenous_malformation"]
    assert a.review_flags == ["pregnancy", "uncontrolled_hypertension"]
    assert a.suggested is EligibilityOutcome.NOT_ELIGIBLE
    assert rule(check_decision, eligible(), a) == "contraindication_blocks_dosing"


def test_eligibility_rules() -> None:
    clean = assess(screening(), BOOK.screening)
    flagged = assess(screening(contraindications=["mania_history"]), BOOK.screening)
    risky = assess(
        screening(
            cssrs={
                "wish_to_be_dead": True,
                "suicidal_thoughts": True,
                "intent": True,
                "behaviour_past_3_months": False,
            }
        ),
        BOOK.screening,
    )
    assert rule(check_decision, eligible(), None) == "screening_required"
    assert rule(check_decision, eligible(route=None), clean) == "route_required"
    assert rule(check_decision, eligible(), flagged) == "clinician_review_required"
    assert rule(check_decision, eligible(), risky) == "rescreening_required"
    check_decision(eligible(flags_reviewed=True), flagged)
    check_decision(EligibilityIn(outcome=EligibilityOutcome.NOT_ELIGIBLE), risky)
    check_decision(eligible(), clean)


# --- preparation checklist -----------------------------------------------------------------------


def test_checklist_follows_the_protocol() -> None:
    assert missing(Checklist(), IV) == ["sessions", "consent", "intention", "baseline", "ride_home"]
    assert missing(Checklist(1, frozenset({"consent", "intention", "baseline", "ride_home"})), IV) == []
    assert missing(Checklist(1, frozenset({"consent", "intention", "baseline", "ride_home"})), NASAL) == [
        "rems_enrollment"
    ]
    assert missing(Checklist(1, frozenset({"consent", "intention", "baseline", "ride_home"})), ORAL) == [
        "sessions"
    ]


def test_consent_document_and_baseline_measures() -> None:
    wrong = ConsentIn(document_version="old@0", signed=True)
    assert rule(check_consent, wrong, IV) == "consent_document_version"
    assert rule(check_baseline, BaselineIn(phq9=12), IV) == "baseline_measures_required"
    check_baseline(BaselineIn(phq9=12), NASAL)


# --- cadence, windows, monitoring ----------------------------------------------------------------


def test_next_dose_waits_the_phase_spacing_in_clinic_days() -> None:
    assert earliest_dose_start(IV, 1, None, NY) is None
    start = earliest_dose_start(IV, 2, T, NY)
    assert start is not None and start.isoformat() == "2026-12-03T00:00:00-05:00"
    nasal9 = earliest_dose_start(NASAL, 9, T, NY)
    assert nasal9 is not None and nasal9.date() == date(2026, 12, 8)


def test_spacing_violations_are_named() -> None:
    assert (
        spacing_violation(IV, 2, T + timedelta(hours=3), None, {date(2026, 12, 1)}, NY) == "one_dose_per_day"
    )
    assert spacing_violation(IV, 2, T + timedelta(days=1), T, {date(2026, 12, 1)}, NY) == "dose_spacing"
    assert spacing_violation(IV, 7, T + timedelta(days=9), T, set(), NY) == "course_doses_exhausted"
    assert spacing_violation(IV, 2, T + timedelta(days=2), T, {date(2026, 12, 1)}, NY) is None


def test_a_requested_dose_time_is_refused_with_the_rule_and_the_field() -> None:
    """The check a staff booking at a time and a dose reschedule share."""
    with pytest.raises(RuleViolation) as refused:
        check_dose_cadence(IV, 2, T + timedelta(days=1), T, {date(2026, 12, 1)}, NY)
    assert (refused.value.rule, refused.value.field) == ("dose_spacing", ["starts_at"])
    assert refused.value.message == f"dose 2 breaks the cadence of {IV.id}"
    check_dose_cadence(IV, 2, T + timedelta(days=2), T, {date(2026, 12, 1)}, NY)  # allowed
    with pytest.raises(RuleViolation) as past:
        require_future(T - timedelta(seconds=1), T)
    assert past.value.rule == "starts_in_past"
    require_future(T, T)


def test_integration_window_and_monitoring_prompts() -> None:
    w = integration_window(IV, T, T + timedelta(minutes=100))
    assert (w.opens_at, w.closes_at, w.due_at) == (
        T + timedelta(minutes=100),
        T + timedelta(hours=72),
        w.opens_at,
    )
    assert w.holds(T + timedelta(hours=3), T + timedelta(hours=4)) and not w.holds(T, T + timedelta(hours=1))
    prompts = monitoring_prompts(NASAL, T)
    assert prompts == [
        (MonitoringCheck.BLOOD_PRESSURE, T + timedelta(minutes=40)),
        (MonitoringCheck.DISCHARGE, T + timedelta(minutes=120)),
    ]


# --- visits ------------------------------------------------------------------------------------


def check_in(**dosing: Any) -> DosingCheckIn:
    base = {
        "blood_pressure": {"systolic": 120, "diastolic": 80},
        "ride_home_confirmed": True,
        "fasting_confirmed": True,
    }
    return DosingCheckIn.model_validate({**base, **dosing})


def test_dosing_check_in_rechecks_prerequisites() -> None:
    assert rule(check_dosing_check_in, None, IV, True) == "pre_dose_checks_required"
    assert rule(check_dosing_check_in, check_in(), NASAL, False) == "rems_certified_site"
    high = check_in(blood_pressure={"systolic": 142, "diastolic": 80})
    assert rule(check_dosing_check_in, high, NASAL, True) == "blood_pressure_above_dosing_limit"
    check_dosing_check_in(high, IV, True)  # IV's limit is 160/100
    assert rule(check_dosing_check_in, check_in(ride_home_confirmed=False), IV, True) == "ride_home_required"
    assert rule(check_dosing_check_in, check_in(fasting_confirmed=False), IV, True) == "fasting_required"


def test_discharge_needs_monitoring_time_assessment_and_post_dose_bp() -> None:
    ok = Discharge.model_validate(
        {
            "vitals": {"post_dose_bp": {"systolic": 130, "diastolic": 85}},
            "discharge_assessment_passed": True,
        }
    )
    assert rule(check_discharge, ok, NASAL, T, T + timedelta(minutes=119)) == "minimum_monitoring"
    check_discharge(ok, NASAL, T, T + timedelta(minutes=120))
    assert (
        rule(
            check_discharge,
            ok.model_copy(update={"discharge_assessment_passed": False}),
            IV,
            T,
            T + timedelta(hours=2),
        )
        == "discharge_assessment_required"
    )
    no_bp = ok.model_copy(update={"vitals": ok.vitals.model_copy(update={"post_dose_bp": None})})
    assert rule(check_discharge, no_bp, IV, T, T + timedelta(hours=2)) == "post_dose_blood_pressure_required"


def appointment(**changes: Any) -> Appointment:
    base = Appointment(
        uuid.uuid4(),
        uuid.uuid4(),
        uuid.uuid4(),
        NY,
        AppointmentKind.INTEGRATION,
        "ther-1",
        None,
        T,
        T + timedelta(hours=1),
        Status.SCHEDULED,
        None,
        None,
        "iv@1",
    )
    return replace(base, **changes)


def test_appointment_guards() -> None:
    assert rule(check_in_allowed, appointment(), T - timedelta(minutes=61)) == "check_in_too_early"
    assert rule(check_in_allowed, appointment(status=Status.CANCELLED), T) == "appointment_state"
    assert rule(complete_allowed, appointment(), T - timedelta(minutes=1)) == "appointment_not_started"
    assert (
        rule(complete_allowed, appointment(kind=AppointmentKind.DOSING), T) == "dosing_completes_with_session"
    )
    assert rule(no_show_allowed, appointment(), T + timedelta(minutes=14), 15) == "no_show_grace_period"
    no_show_allowed(appointment(), T + timedelta(minutes=15), 15)


# --- what happens next ---------------------------------------------------------------------------


def plan(**changes: Any) -> CoursePlan:
    base = CoursePlan(
        uuid.uuid4(),
        uuid.uuid4(),
        NY,
        CourseStatus.DOSING,
        Route.IV,
        "iv@1",
        1,
        T,
        frozenset(),
        True,
        False,
        False,
    )
    return replace(base, **changes)


def test_next_steps_after_a_dose_and_after_an_integration() -> None:
    assert after_session(IV, plan()) == "wait"  # IV waits for the integration
    assert after_session(ORAL, plan()) == "book_next_dose"  # oral does not
    assert after_session(ORAL, plan(open_dosing=True)) == "wait"
    assert (
        after_integration(IV, plan(integration_outstanding=False, last_integration_held=True))
        == "book_next_dose"
    )
    assert after_integration(IV, plan(doses_given=6, last_integration_held=True)) == "complete_course"
    assert after_integration(IV, plan(doses_given=6, last_integration_held=False)) == "wait"
    assert after_integration(IV, plan(status=CourseStatus.HALTED, integration_outstanding=False)) == "wait"


def test_booking_a_dose_by_hand_names_what_blocks_it() -> None:
    assert rule(require_dosing_open, plan(status=CourseStatus.HALTED), IV) == "course_halted"
    assert rule(require_dosing_open, plan(status=CourseStatus.OPEN), IV) == "preparation_required"
    assert rule(require_dosing_open, plan(open_dosing=True), IV) == "dose_already_booked"
    assert (
        rule(require_dosing_open, plan(doses_given=6, integration_outstanding=False), IV)
        == "course_doses_exhausted"
    )
    assert rule(require_dosing_open, plan(), IV) == "integration_outstanding"
    require_dosing_open(plan(integration_outstanding=False), IV)


def test_clinicians_are_booked_only_inside_their_own_working_hours() -> None:
    clinic = load_clinic(DEFAULT_CLINIC)
    tuesday_noon = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    assert not clinic.works("ther-2", tuesday_noon, tuesday_noon + timedelta(hours=1))  # Mon/Wed/Fri only
    assert clinic.works("ther-1", tuesday_noon, tuesday_noon + timedelta(hours=1))  # the clinic's hours
    only_ther2 = Need(("ther-2",))
    found = first_reservation(clinic, only_ther2, {}, tuesday_noon, timedelta(hours=1), NY)
    assert found is not None and found.start.astimezone(ZoneInfo(NY)).strftime("%a %H:%M") == "Wed 09:00"
    friday_morning = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)  # Friday 09:00; ther-2 starts at 12:00
    found = first_reservation(clinic, only_ther2, {}, friday_morning, timedelta(hours=1), NY)
    assert found is not None and found.start.astimezone(ZoneInfo(NY)).strftime("%a %H:%M") == "Fri 12:00"


def test_every_sql_list_of_reserving_statuses_matches_the_domain() -> None:
    """The statuses that hold a clinician and a room are spelled out in SQL where a partial index or
    an exclusion constraint must match them literally; each such list (the ones naming
    'in_monitoring') must be exactly ``RESERVING``."""
    package = Path(katflow_scheduling.__file__).parent
    sources = [*package.glob("migrations/*.sql"), *package.glob("adapters/*.py")]
    lists = [
        {s.strip(" '\"") for s in m.split(",")}
        for path in sources
        for m in re.findall(r"status IN \(([^)]*)\)", path.read_text())
        if "in_monitoring" in m
    ]
    assert len(lists) >= 5  # exclusion constraints, trigger, partial index, busy query
    assert all(found == {s.value for s in RESERVING} for found in lists), lists
