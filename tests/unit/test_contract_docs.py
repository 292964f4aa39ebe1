"""The contract docs are generated from the code, and published schemas stay compatible."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from katflow_shared.contracts import EVENT_TYPES, REGISTRY, ConsultationRequested, PatientContactUpdated
from katflow_shared.contracts.topics import WORKFLOW_TOPICS
from katflow_shared.messaging.cloudevents import decode
from katflow_shared.settings import ServiceSettings
from katflow_tools import cli, docs_gen
from katflow_tools.docs_gen import common, configuration_md, examples, schemas, topology
from katflow_tools.docs_gen.compat import breaking_changes
from katflow_tools.docs_gen.schemas import compatibility_problems, event_schema
from tests.support.infra import REPO

Json = dict[str, Any]


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return docs_gen.generate()


@pytest.fixture(scope="module")
def asyncapi() -> Json:
    doc: Json = json.loads((REPO / common.ASYNCAPI_FILE).read_text())
    return doc


# --------------------------------------------------------------------------- drift


def test_committed_docs_are_what_the_code_generates(generated: dict[str, str]) -> None:
    assert docs_gen.drift(REPO, generated) == [], "regenerate with: uv run katflow docs"


def test_generation_is_deterministic(generated: dict[str, str]) -> None:
    assert docs_gen.generate() == generated


def test_cli_check_passes_on_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert cli.main(["docs", "--check"]) == 0


def test_check_reports_drift_and_write_repairs_it(tmp_path: Path) -> None:
    lines: list[str] = []
    assert docs_gen.run(check_only=True, root=tmp_path, out=lines.append) == 1
    assert any("docs/events.md: missing" in line for line in lines)
    assert docs_gen.run(check_only=False, root=tmp_path, out=lines.append) == 0
    assert docs_gen.check(tmp_path) == []
    (tmp_path / common.EVENTS_FILE).write_text("edited by hand\n")
    assert docs_gen.check(tmp_path) == ["drift: docs/events.md: out of date"]


# --------------------------------------------------------------------------- compatibility


def test_models_are_compatible_with_the_committed_schemas() -> None:
    on_disk = schemas.worktree_schemas(REPO)
    assert on_disk, "no committed schemas"
    assert compatibility_problems(on_disk, on_disk) == []


def _props(schema: Json) -> Json:
    props: Json = schema["properties"]
    return props


def _remove(schema: Json) -> None:
    del _props(schema)["preferred_route"]


def _rename(schema: Json) -> None:
    _props(schema)["request_id"] = _props(schema).pop("consultation_request_id")
    schema["required"] = ["request_id" if r == "consultation_request_id" else r for r in schema["required"]]


def _retype(schema: Json) -> None:
    _props(schema)["course_id"] = {"type": "integer", "description": "now a number"}


def _drop_format(schema: Json) -> None:
    del _props(schema)["course_id"]["format"]


def _make_nullable(schema: Json) -> None:
    _props(schema)["course_id"] = {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]}


def _make_not_nullable(schema: Json) -> None:
    _props(schema)["preferred_route"] = {"$ref": "#/$defs/Route"}


def _add_enum_value(schema: Json) -> None:
    schema["$defs"]["Route"]["enum"].append("subcutaneous")


def _remove_enum_value(schema: Json) -> None:
    schema["$defs"]["Route"]["enum"].remove("oral")


def _new_required(schema: Json) -> None:
    _props(schema)["referral_source"] = {"type": "string"}
    schema["required"].append("referral_source")


def _now_required(schema: Json) -> None:
    schema["required"].append("preferred_route")


def _move(schema: Json) -> None:
    schema["x-katflow"]["topic"] = "katflow.scheduling.v1"


def _rekey(schema: Json) -> None:
    schema["x-katflow"]["key"] = "patient_id"


def _tighten(schema: Json) -> None:
    _props(schema)["course_id"]["maxLength"] = 10


BREAKING: dict[str, tuple[Callable[[Json], None], str]] = {
    "field removed": (_remove, "preferred_route: field removed or renamed"),
    "field renamed": (_rename, "consultation_request_id: field removed or renamed"),
    "type changed": (_retype, "course_id: type changed from string(uuid) to integer"),
    "format changed": (_drop_format, "course_id: type changed"),
    "made nullable": (_make_nullable, "course_id: type changed"),
    "made non-nullable": (_make_not_nullable, "preferred_route: type changed"),
    "enum value added": (
        _add_enum_value,
        "preferred_route<Route>: type changed from Route:string{iv,im,intranasal,oral} to",
    ),
    "enum value removed": (
        _remove_enum_value,
        "preferred_route<Route>: type changed from Route:string{iv,im,intranasal,oral} to",
    ),
    "new required field": (_new_required, "referral_source: new required field"),
    "optional made required": (_now_required, "preferred_route: optional field became required"),
    "moved to another topic": (_move, "x-katflow: topic changed from 'katflow.intake.v1'"),
    "key changed": (_rekey, "x-katflow: key changed from 'course_id' to 'patient_id'"),
    "constraint added": (_tighten, "course_id: 'maxLength' changed from None to 10"),
}


@pytest.mark.parametrize("change", sorted(BREAKING))
def test_checker_catches_each_breaking_change(change: str) -> None:
    mutate, expected = BREAKING[change]
    published = event_schema(ConsultationRequested)
    current = copy.deepcopy(published)
    mutate(current)
    problems = breaking_changes(published, current)
    assert any(expected in p for p in problems), problems


def test_checker_follows_refs_into_nested_models() -> None:
    published = event_schema(PatientContactUpdated)
    removed, retyped = copy.deepcopy(published), copy.deepcopy(published)
    del removed["$defs"]["ChannelConsent"]["properties"]["method"]
    retyped["$defs"]["ChannelConsent"]["properties"]["granted"] = {"type": "string"}
    assert "email_consent.method: field removed or renamed" in breaking_changes(published, removed)
    assert any(
        p.startswith("sms_consent.granted: type changed") for p in breaking_changes(published, retyped)
    )


def test_checker_catches_a_constraint_change() -> None:
    session = REGISTRY["io.katflow.SessionAdministered.v1"]
    published = event_schema(session)
    current = copy.deepcopy(published)
    current["properties"]["dose_number"]["minimum"] = 0
    assert breaking_changes(published, current) == ["dose_number: 'minimum' changed from 1 to 0"]


def test_checker_accepts_compatible_changes() -> None:
    published = event_schema(ConsultationRequested)
    current = copy.deepcopy(published)
    _props(current)["referral_source"] = {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "default": None,
        "description": "new, optional",
    }
    _props(current)["attempt"] = {"type": "integer", "default": 1}
    _props(current)["course_id"]["description"] = "reworded"
    _props(current)["course_id"]["title"] = "Course"
    current["description"] = "reworded"
    _props(current)["preferred_route"]["anyOf"].reverse()
    assert breaking_changes(published, published) == []
    assert breaking_changes(published, current) == []
    nested = event_schema(PatientContactUpdated)
    grown = copy.deepcopy(nested)
    grown["$defs"]["ChannelConsent"]["properties"]["source_ip_hash"] = {"type": "string", "default": ""}
    assert breaking_changes(nested, grown) == []


def _published(cls: type[Any], version: int, schema: Json) -> tuple[str, str]:
    return f"docs/schemas/{cls.name}/v{version}.json", common.dump_json(schema)


def test_incompatible_model_change_asks_for_a_new_version() -> None:
    published = copy.deepcopy(event_schema(ConsultationRequested))
    _props(published)["referral_source"] = {"type": "string"}
    published["required"].append("referral_source")  # the model no longer has this field
    path, text = _published(ConsultationRequested, 1, published)
    problems = compatibility_problems({path: text})
    assert problems == [
        "ConsultationRequested v1: referral_source: field removed or renamed",
        "ConsultationRequested v1: to make this change, raise ConsultationRequested.version to 2 "
        "(v1.json stays as published)",
    ]


def test_superseded_versions_must_stay_as_published() -> None:
    """A v0 file stands for a version the model has moved past: it must be kept unchanged."""
    old = copy.deepcopy(event_schema(ConsultationRequested))
    _props(old)["legacy"] = {"type": "string"}
    path, text = _published(ConsultationRequested, 0, old)
    assert compatibility_problems({path: text}, {path: text}) == []  # incompatible with v1: fine
    assert compatibility_problems({path: text}, {path: text + " "}) == [
        f"{path}: a superseded schema version must stay exactly as published"
    ]
    assert compatibility_problems({path: text}, {}) == [
        f"{path}: a superseded schema version must stay exactly as published"
    ]


def test_published_versions_and_types_must_not_disappear() -> None:
    v2, text = _published(ConsultationRequested, 2, event_schema(ConsultationRequested))
    assert compatibility_problems({v2: text}) == [
        f"{v2}: published v2 but the model ConsultationRequested is v1"
    ]
    gone = "docs/schemas/ConsultationWithdrawn/v1.json"
    assert compatibility_problems({gone: "{}"}) == [
        f"{gone}: published event type ConsultationWithdrawn has no model any more"
    ]


def test_regenerating_refuses_to_overwrite_a_published_schema_with_a_breaking_change(tmp_path: Path) -> None:
    published = copy.deepcopy(event_schema(ConsultationRequested))
    _props(published)["referral_source"] = {"type": "string"}
    path, text = _published(ConsultationRequested, 1, published)
    (tmp_path / path).parent.mkdir(parents=True)
    (tmp_path / path).write_text(text)
    lines: list[str] = []
    assert docs_gen.run(check_only=False, root=tmp_path, out=lines.append) == 1
    assert "referral_source: field removed or renamed" in lines[0]
    assert (tmp_path / path).read_text() == text
    assert not (tmp_path / common.EVENTS_FILE).exists()
    assert docs_gen.run(check_only=True, root=tmp_path, out=lines.append) == 1


# --------------------------------------------------------------------------- coverage of every event


@pytest.mark.parametrize("event_type", sorted(REGISTRY))
def test_every_event_type_is_documented(event_type: str, asyncapi: Json) -> None:
    cls = REGISTRY[event_type]
    schema = json.loads((REPO / common.schema_path(cls)).read_text())
    envelope = examples.example_envelope(cls)
    headers = dict(envelope.headers())
    assert schema["$id"] == headers["ce_dataschema"].decode()
    assert schema["x-katflow"]["type"] == event_type == headers["ce_type"].decode()
    assert schema["x-katflow"]["topic"] == cls.topic
    assert schema["x-katflow"]["key"] == cls.key_field
    assert schema["x-katflow"]["restricted"] is cls.restricted

    events_md = (REPO / common.EVENTS_FILE).read_text()
    assert f"### {cls.name}\n" in events_md
    assert f"`{event_type}`" in events_md
    assert f"ce_type: {event_type}\n" in events_md

    assert cls.name in asyncapi["components"]["schemas"]
    channel = asyncapi["channels"][f"{cls.topic}:{cls.name}"]
    assert channel["address"] == cls.topic
    message_ref = next(iter(channel["messages"].values()))["$ref"].rsplit("/", 1)[-1]
    message = asyncapi["components"]["messages"][message_ref]
    assert message["payload"] == {"$ref": f"#/components/schemas/{cls.name}"}
    assert message["headers"]["properties"]["ce_type"]["enum"] == [event_type]
    assert asyncapi["operations"][f"{cls.topic}:{cls.name}"]["action"] == "send"


@pytest.mark.parametrize("event_type", sorted(REGISTRY))
def test_example_records_are_valid_katflow_records(event_type: str) -> None:
    cls = REGISTRY[event_type]
    envelope = examples.example_envelope(cls)
    assert decode(envelope.headers(), envelope.body()) == envelope
    schema = json.loads((REPO / common.schema_path(cls)).read_text())
    jsonschema.Draft202012Validator(schema).validate(json.loads(envelope.body()))


def test_every_workflow_topic_is_documented(asyncapi: Json) -> None:
    events_md = (REPO / common.EVENTS_FILE).read_text()
    for spec in WORKFLOW_TOPICS:
        assert f"\n## {spec.name}\n" in events_md
        for service, _ in topology.consumers(spec.name):
            operation = asyncapi["operations"][f"{spec.name}:{service}"]
            assert operation["action"] == "receive"
            assert operation["bindings"]["kafka"]["groupId"]["enum"] == [topology.consumer_group(service)]
    assert {cls.topic for cls in EVENT_TYPES} <= set(topology.ABOUT)
    assert asyncapi["asyncapi"] == "3.0.0"


def test_every_setting_is_documented_and_secrets_are_not() -> None:
    text = (REPO / common.CONFIGURATION_FILE).read_text()
    classes: list[type[ServiceSettings]] = [ServiceSettings, *configuration_md.settings_classes().values()]
    for cls in classes:
        for name, field in cls.model_fields.items():
            assert f"`{configuration_md.env_var(name, field)}`" in text
    assert "| `KATFLOW_DATABASE_URL` | (secret) |" in text
    assert "katflow:katflow@" not in text
