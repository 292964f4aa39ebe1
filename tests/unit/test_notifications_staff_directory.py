"""The staff directory's routing of a booked clinician (issues 27, 30): one look-up gives a member of
the file, or a feed-only member known from scheduling's ClinicianUpdated; routing treats both alike,
and a feed-only member gets only what goes to feeds."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from katflow_notifications.domain.intents import intents_for
from katflow_notifications.domain.staff import FeedOnlyMember, load_staff
from katflow_notifications.settings import DEFAULT_STAFF
from katflow_shared.contracts import AppointmentScheduled, ClinicianUpdated
from katflow_shared.contracts.common import AppointmentKind

DIRECTORY = load_staff(DEFAULT_STAFF)
T = datetime(2024, 6, 3, 15, 0, tzinfo=UTC)


def routed(notification: str, booked: str | None) -> list[tuple[str, str]]:
    """(staff id, channel) of ``notification`` for the ``booked`` clinician: the file's entry, else
    a feed-only member (as ``postgres_staff.member`` finds one known from ClinicianUpdated)."""
    member = None if booked is None else DIRECTORY.entry(booked) or FeedOnlyMember(booked)
    rule = DIRECTORY.routing[notification]
    members = DIRECTORY.recipients(notification, member)
    return [(m.id, ch) for m in members for ch in rule.channels if m.reaches(ch)]


def test_a_booked_clinician_of_the_file_is_routed_by_the_file_once() -> None:
    assert routed("rems_form_due", "clin-3") == [
        ("clin-1", "email"),
        ("clin-1", "feed"),
        ("clin-3", "email"),
        ("clin-3", "feed"),
    ]
    assert routed("rems_form_due", "clin-1") == [("clin-1", "email"), ("clin-1", "feed")]  # on call too


def test_a_clinician_known_only_from_events_gets_the_feed_alone_after_the_rota() -> None:
    assert routed("rems_form_due", "clin-9") == [("clin-1", "email"), ("clin-1", "feed"), ("clin-9", "feed")]
    assert routed("monitoring_check", "clin-9") == [("clin-1", "feed"), ("clin-9", "feed")]


def test_a_rule_not_for_the_booked_clinician_ignores_them() -> None:
    assert routed("urgent_review", "clin-9") == routed("urgent_review", None)
    assert routed("urgent_review", "clin-2") == routed("urgent_review", None)


def test_events_handled_without_a_look_up_name_no_clinician_for_staff() -> None:
    """AppointmentScheduled and ClinicianUpdated carry a clinician but are planned writes (no read,
    so no directory look-up, ``entrypoints.consumer``): they must call for no staff message."""
    scheduled = AppointmentScheduled(
        appointment_id=uuid.uuid4(),
        course_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        kind=AppointmentKind.DOSING,
        clinician_id="clin-9",
        starts_at=T,
        ends_at=T,
        patient_time_zone="UTC",
    )
    updated = ClinicianUpdated(clinic_id="main", changed_at=T, clinician_id="clin-9", created=True)
    for event in (scheduled, updated):
        assert [i for i in intents_for(event, T, lambda _: None) if i.audience == "staff"] == []
