from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from katflow_shared.contracts import REGISTRY, ConsultationRequested
from katflow_shared.messaging.cloudevents import Envelope, decode
from katflow_shared.messaging.errors import InvalidMessage


def _event() -> ConsultationRequested:
    return ConsultationRequested(
        consultation_request_id=uuid.uuid4(),
        course_id=uuid.uuid4(),
        patient_id=uuid.uuid4(),
        patient_time_zone="Europe/Berlin",
        requested_at=datetime.now(UTC),
    )


def test_round_trip_keeps_event_and_ids() -> None:
    env = Envelope(_event(), source="/katflow/intake", correlation_id="req-1", causation_id="ev-0")
    back = decode(env.headers(), env.body())
    assert back == env
    headers = dict(env.headers())
    assert headers["ce_subject"] == str(env.event.course_id).encode()
    assert headers["content-type"] == b"application/json"


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ([], b"{}", "missing CloudEvents header"),
        (
            [("ce_specversion", b"0.3"), ("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"t")],
            b"{}",
            "specversion",
        ),
        (
            [("ce_specversion", b"1.0"), ("ce_id", b"1"), ("ce_source", b"s"), ("ce_type", b"nope")],
            b"{}",
            "unknown event type",
        ),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"s"),
                ("ce_type", ConsultationRequested.event_type().encode()),
            ],
            b"{not json",
            "body invalid",
        ),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"s"),
                ("ce_type", ConsultationRequested.event_type().encode()),
            ],
            b'{"course_id": 3}',
            "body invalid",
        ),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"1"),
                ("ce_source", b"s"),
                ("ce_type", ConsultationRequested.event_type().encode()),
            ],
            b"x" * 300_000,
            "larger than",
        ),
        ([("ce_id", b"\xff")], b"{}", "UTF-8"),
    ],
)
def test_invalid_records_are_named(headers: list[tuple[str, bytes]], body: bytes, message: str) -> None:
    with pytest.raises(InvalidMessage, match=message):
        decode(headers, body)


PHI_FIELDS = {"given_name", "family_name", "email", "phone", "date_of_birth", "indication", "notes"}


def test_workflow_events_carry_no_phi_fields() -> None:
    for cls in REGISTRY.values():
        if not cls.restricted:
            assert not PHI_FIELDS & set(cls.model_fields), cls.name


def test_events_are_frozen_and_strict() -> None:
    event = _event()
    with pytest.raises(ValidationError):
        event.course_id = uuid.uuid4()  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ConsultationRequested.model_validate({**json.loads(event.model_dump_json()), "extra": 1})
