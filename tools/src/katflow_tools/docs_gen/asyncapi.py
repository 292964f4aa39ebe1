"""docs/asyncapi.json: FastStream's AsyncAPI 3 document, completed with CloudEvents and Kafka details."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any

from katflow_shared.contracts import Event
from katflow_shared.contracts.topics import WORKFLOW_TOPICS
from katflow_shared.messaging.cloudevents import CONTENT_TYPE, SPECVERSION

from .common import KAFKA_BINDING_VERSION, LOCAL_BOOTSTRAP, Json, events_on, schema_url, summary
from .examples import key_text
from .topology import consumer_group, consumers


def build_app() -> Any:
    """A FastStream app whose broker declares katflow's topics with typed publishers and subscribers."""
    from faststream import FastStream
    from faststream.kafka import KafkaBroker
    from faststream.specification import AsyncAPI

    broker = KafkaBroker(
        LOCAL_BOOTSTRAP,
        description="Local development broker (`make up`); deployments set KATFLOW_KAFKA_BOOTSTRAP.",
    )
    for spec in WORKFLOW_TOPICS:
        models = events_on(spec.name)
        for cls in models:
            broker.publisher(
                spec.name,
                title=f"{spec.name}:{cls.name}",
                description=f"{spec.producer} publishes {cls.event_type()}: {summary(cls)}",
                schema=cls,
            )
        for service, handled in consumers(spec.name):
            broker.subscriber(
                spec.name,
                group_id=consumer_group(service),
                title=f"{spec.name}:{service}",
                description=f"{service} consumes {_which(handled, models)} on {spec.name}.",
            )(_handler(handled))
    return FastStream(
        broker,
        specification=AsyncAPI(
            broker,
            title="katflow events",
            version=importlib.metadata.version("katflow-shared"),
            description=(
                "Events of katflow's services. CloudEvents 1.0 in Kafka binary mode: attributes in "
                "`ce_*` headers, the JSON body described by each message's payload. Logical topic "
                "names; a deployment may prefix them (KATFLOW_TOPIC_PREFIX). See docs/events.md."
            ),
            schema_version="3.0.0",
        ),
    )


def _which(handled: Sequence[type[Event]], on_topic: Sequence[type[Event]]) -> str:
    if list(handled) == list(on_topic):
        return "every event type"
    return ", ".join(cls.event_type() for cls in handled) + " (it skips the other types)"


def _handler(models: Sequence[type[Event]]) -> Callable[..., Any]:
    async def handle(event: Any) -> None:  # documentation only: never run
        return None

    handle.__annotations__["event"] = reduce(lambda a, b: a | b, models)  # type: ignore[arg-type,return-value]
    return handle


def _ce_headers(models: Sequence[type[Event]]) -> Json:
    key_desc = "Same as the Kafka key: " + "; ".join(
        f"{cls.name}: {key_text(cls, plain=True)}" for cls in models
    )
    return {
        "type": "object",
        "required": [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "ce_subject",
            "ce_dataschema",
            "content-type",
        ],
        "properties": {
            "ce_specversion": {"type": "string", "const": SPECVERSION},
            "ce_id": {
                "type": "string",
                "format": "uuid",
                "description": "Event id; the same on every redelivery: deduplicate on it.",
            },
            "ce_source": {"type": "string", "description": "/katflow/<service>, e.g. /katflow/intake."},
            "ce_type": {"type": "string", "enum": [cls.event_type() for cls in models]},
            "ce_time": {"type": "string", "format": "date-time", "description": "When it happened (UTC)."},
            "ce_subject": {"type": "string", "description": key_desc},
            "ce_dataschema": {"type": "string", "format": "uri", "enum": [schema_url(c) for c in models]},
            "content-type": {"type": "string", "const": CONTENT_TYPE},
            "ce_correlationid": {
                "type": "string",
                "description": "Optional: id of the request that started the chain of events.",
            },
            "ce_causationid": {
                "type": "string",
                "description": "Optional: ce_id of the event that caused it.",
            },
            "traceparent": {
                "type": "string",
                "description": "Optional: W3C Trace Context of the span it was emitted in (OpenTelemetry).",
            },
            "tracestate": {"type": "string", "description": "Optional: W3C Trace Context vendor state."},
        },
    }


def asyncapi_document() -> Json:
    """The AsyncAPI 3 document: FastStream's output plus CloudEvents headers and Kafka bindings."""
    doc: Json = build_app().schema.to_specification().to_jsonable()
    channels: Json = doc["channels"]
    messages: Json = doc["components"]["messages"]
    operations: Json = doc["operations"]
    for spec in WORKFLOW_TOPICS:
        models = events_on(spec.name)
        entries: list[tuple[str, list[type[Event]], str | None]]
        entries = [(f"{spec.name}:{cls.name}", [cls], None) for cls in models]
        entries += [(f"{spec.name}:{s}", handled, consumer_group(s)) for s, handled in consumers(spec.name)]
        for key, carried, group in entries:
            channel = channels[key]
            channel["bindings"]["kafka"].update(
                partitions=spec.partitions, topicConfiguration={"retention.ms": spec.retention_ms}
            )
            channel["x-katflow-restricted"] = spec.restricted
            for ref in channel["messages"].values():
                message = messages[ref["$ref"].rsplit("/", 1)[-1]]
                message["contentType"] = CONTENT_TYPE
                message["headers"] = _ce_headers(carried)
                message["correlationId"] = {
                    "description": "Request that started the chain of events.",
                    "location": "$message.header#/ce_correlationid",
                }
                message["bindings"] = {
                    "kafka": {
                        "bindingVersion": KAFKA_BINDING_VERSION,
                        "key": {
                            "type": "string",
                            "format": "uuid",
                            "description": "; ".join(f"{c.name}: {key_text(c, plain=True)}" for c in carried),
                        },
                    }
                }
            if group is not None:
                operations[key]["bindings"] = {
                    "kafka": {
                        "bindingVersion": KAFKA_BINDING_VERSION,
                        "groupId": {"type": "string", "enum": [group]},
                    }
                }
    return doc
