"""The console's pure decisions: which events raise alerts, how a refusal reads, a timeline line."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from katflow_console.adapters.services_api import Answer
from katflow_console.domain.board import alert_for, timeline_line
from katflow_console.domain.rems import filing_due
from katflow_console.domain.rules import sentence
from katflow_console.entrypoints.consumer import handlers
from katflow_shared.clock import FixedClock
from katflow_shared.contracts import IntegrationOverdue, PatientContactUpdated
from katflow_shared.contracts.topics import PATIENT_CONTACT

NOW = datetime(2027, 6, 4, 15, tzinfo=UTC)


def test_an_integration_overdue_is_an_urgent_alert() -> None:
    overdue = IntegrationOverdue(
        course_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        dose_number=2,
        window_closed_at=NOW,
    )
    alert = alert_for(overdue)
    assert alert is not None and alert.urgent and alert.summary.endswith("(dose 2)")


def test_a_refusal_reads_as_a_sentence_with_the_services_message() -> None:
    said = sentence("blood_pressure_above_dosing_limit", "at or above 140/90 (intranasal@1)")
    assert said == "Blood pressure is too high to dose: at or above 140/90 (intranasal@1)."
    assert sentence("some_new_rule", "") == "Some new rule."
    assert sentence("http_403", "role not permitted").startswith("Your role may not do this: ")


def test_a_timeline_line_names_the_event_and_its_codes_only() -> None:
    line = timeline_line("MonitoringCheckDue", {"check": "blood_pressure", "course_id": "c", "due_at": "x"})
    assert line == "MonitoringCheckDue · check: blood_pressure"


def test_the_console_reads_the_workflow_topics_and_the_contact_topic() -> None:
    read = handlers(FixedClock(NOW), ZoneInfo("America/New_York"))
    assert PatientContactUpdated in read and IntegrationOverdue in read
    assert {cls.topic for cls in read} >= {PATIENT_CONTACT, "katflow.intake.v1", "katflow.scheduling.v1"}


def test_a_service_that_still_asks_who_acts_is_asked_again_naming_the_person() -> None:
    missing = {"detail": [{"loc": ["body", "checked_in_by"], "msg": "Field required", "type": "missing"}]}
    assert Answer(422, missing).missing_actor_field() == "checked_in_by"
    refused = {"loc": ["body", "dosing", "blood_pressure"], "msg": "at or above 140/90", "type": "x"}
    rule = {"detail": [refused]}
    assert Answer(422, rule).missing_actor_field() is None
    assert Answer(422, rule).refusal() == ("blood_pressure", "x", "at or above 140/90")
    assert Answer(403, {"detail": "role not permitted"}).refusal() == ("", "http_403", "role not permitted")


def test_the_rems_form_is_due_the_protocols_days_after_the_session() -> None:
    session = {"administered_at": "2027-06-04T15:00:00+00:00"}
    zone = ZoneInfo("America/New_York")
    assert filing_due(session, 7, date(2027, 6, 4), zone) == (date(2027, 6, 11), "due in 7 days")
    assert filing_due(session, 7, date(2027, 6, 10), zone) == (date(2027, 6, 11), "due tomorrow")
    assert filing_due(session, 7, date(2027, 6, 13), zone) == (date(2027, 6, 11), "overdue by 2 days")
    assert filing_due(None, 7, date(2027, 6, 4), zone) is None
