from __future__ import annotations

import json
import typing
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from katflow_shared.contracts import REGISTRY, ConsultationRequested, PatientContactUpdated
from katflow_shared.contracts.patient_contact import ChannelConsent
from katflow_shared.messaging.cloudevents import Envelope, decode, nested_model
from katflow_shared.messaging.errors import InvalidMessage
from tests.support.patient_events import consultation_requested


def _event() -> ConsultationRequested:
    return consultation_requested(zone="Europe/Berlin")


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


def _contact() -> PatientContactUpdated:
    consent = ChannelConsent(granted=True, captured_at=datetime.now(UTC), method="web-form")
    return PatientContactUpdated(
        patient_id=uuid.uuid4(),
        given_name="Ana",
        family_name="Ruiz",
        email="ana@example.org",
        time_zone="Europe/Madrid",
        email_consent=consent,
        sms_consent=ChannelConsent(granted=False),
        updated_at=datetime.now(UTC),
    )


def test_a_field_added_by_a_newer_producer_is_ignored_not_dead_lettered() -> None:
    """Rolling deploy: the producer is upgraded first and adds fields, at the top and nested."""
    env = Envelope(_contact(), source="/katflow/intake")
    newer = json.loads(env.body())
    newer["preferred_language"] = "es"
    newer["email_consent"]["withdrawn_by"] = "patient"
    back = decode(env.headers(), json.dumps(newer).encode())
    assert back.event == env.event


def test_the_tolerant_reader_still_refuses_what_its_model_requires() -> None:
    env = Envelope(_event(), source="/katflow/intake")
    body = json.loads(env.body())
    del body["course_id"]
    with pytest.raises(InvalidMessage, match="course_id: missing"):
        decode(env.headers(), json.dumps({**body, "added": 1}).encode())
    env = Envelope(_contact(), source="/katflow/intake")
    body = json.loads(env.body())
    body["sms_consent"] = {"granted": "perhaps", "added": 1}
    with pytest.raises(InvalidMessage, match="sms_consent.granted: bool_parsing"):
        decode(env.headers(), json.dumps(body).encode())


def _holds_model(annotation: object) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_holds_model(a) for a in typing.get_args(annotation))


def test_every_nested_model_of_every_event_is_read_tolerantly() -> None:
    """The tolerant reader follows a field that is a model or an optional one; a model inside a list
    or a mapping would escape it (and its unknown fields would dead-letter the record)."""
    for cls in REGISTRY.values():
        for name, info in cls.model_fields.items():
            if _holds_model(info.annotation):
                assert nested_model(info.annotation) is not None, f"{cls.name}.{name}"
