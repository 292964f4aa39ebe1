"""Deterministic example events and records, for the catalogue and the key descriptions."""

from __future__ import annotations

import types
import typing
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from katflow_shared.contracts import Event
from katflow_shared.contracts.topics import producer_source
from katflow_shared.messaging.cloudevents import Envelope

from .common import Json

EXAMPLE_TIME = datetime(2025, 3, 4, 15, 0, tzinfo=UTC)
EXAMPLE_NAMESPACE = uuid.UUID("6f1c7c1e-6a53-5b8e-9a5e-2b1f0d6c9a11")
EXAMPLE_VALUES: dict[str, Any] = {
    "clinician_id": "clin-ada",
    "room_id": "room-2",
    "protocol_version": "iv@1",
    "channel": "email",
    "template_id": "appointment-reminder",
    "template_version": 2,
    "error_code": "smtp-550",
    "given_name": "Alex",
    "family_name": "Example",
    "email": "alex@example.org",
    "phone": "+15555550100",
    "method": "web-form",
    "granted": True,
    "adverse_events": False,
    "dose_number": 1,
    "doses": 6,
    "planned_day": date(2025, 3, 6),
    "booked_day": date(2025, 3, 7),
    "gap_days": 5,
    "max_days_between": 4,
}


def example_uuid(label: str) -> uuid.UUID:
    """The same label gives the same id in every example, so one course's events share its ids."""
    return uuid.uuid5(EXAMPLE_NAMESPACE, label)


# Where the shared example value would read wrongly for one event type.
EXAMPLE_OVERRIDES: dict[str, Json] = {"CadenceStretched": {"dose_number": 3}}


def example_event(cls: type[Event]) -> Event:
    """A deterministic, valid instance of ``cls`` (raises if a field type has no example rule)."""
    return cls.model_validate(_example_fields(cls, EXAMPLE_OVERRIDES.get(cls.name)))


def _example_fields(model: type[BaseModel], overrides: Mapping[str, Any] | None = None) -> Json:
    data: Json = {}
    for index, (name, field) in enumerate(model.model_fields.items()):
        if overrides and name in overrides:
            data[name] = overrides[name]
        else:
            data[name] = _example_value(name, field.annotation, field, index)
    return data


def _example_value(name: str, annotation: Any, field: FieldInfo, index: int) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        present = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _example_value(name, present[0], field, index)
    if name in EXAMPLE_VALUES:
        return EXAMPLE_VALUES[name]
    if annotation is uuid.UUID:
        return example_uuid(name)
    if annotation is datetime:
        return EXAMPLE_TIME + timedelta(hours=index)
    if annotation is date:
        return date(1990, 1, 31)
    if annotation is bool:
        return True
    if annotation is int:
        minimums = [typing.cast(int, m.ge) for m in field.metadata if isinstance(m, annotated_types.Ge)]
        return max([1, *minimums])
    if annotation is str:
        return "America/Chicago" if "time_zone" in name else f"example-{name.replace('_', '-')}"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return next(iter(annotation)).value
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _example_fields(annotation)
    raise TypeError(f"no example rule for field {name!r} of type {annotation!r}: extend docs_gen")


def example_envelope(cls: type[Event]) -> Envelope:
    """The example event as its producer sends it: ``ce_time`` is the event's latest timestamp."""
    event = example_event(cls)
    times = [value for value in dict(event).values() if isinstance(value, datetime)]
    return Envelope(
        event=event,
        source=producer_source(cls.topic),
        id=str(example_uuid(f"ce_id/{cls.name}")),
        time=max(times, default=EXAMPLE_TIME),
        correlation_id=str(example_uuid("correlation")),
    )


def key_fallback(cls: type[Event]) -> str | None:
    """The field used as key when the key field is absent (e.g. a notification about no course)."""
    if cls.model_fields[cls.key_field].is_required():
        return None
    event = cls.model_validate(_example_fields(cls, {cls.key_field: None}))
    key = event.key()
    for name in cls.model_fields:
        if name != cls.key_field and str(getattr(event, name)) == key:
            return name
    return None


def key_text(cls: type[Event], plain: bool = False) -> str:
    fallback = key_fallback(cls)
    text = f"`{cls.key_field}`" + (f" (`{fallback}` when `{cls.key_field}` is null)" if fallback else "")
    return text.replace("`", "") if plain else text
