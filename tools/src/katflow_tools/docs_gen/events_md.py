"""docs/events.md: the topic catalogue, with a field table and an example record per event type."""

from __future__ import annotations

import json

from katflow_shared.contracts import Event
from katflow_shared.contracts.topics import DEAD_LETTER_TOPICS, WORKFLOW_TOPICS
from katflow_shared.messaging.cloudevents import CONTENT_TYPE, SPECVERSION

from .common import GENERATED_NOTE, Json, cell, days, events_on, summary
from .examples import example_envelope, key_text
from .schemas import event_schema
from .topology import ABOUT, consumer_group, consumers, consumers_of, publisher


class _Types:
    def __init__(self, schema: Json) -> None:
        self.defs: Json = schema.get("$defs", {})

    def resolve(self, node: Json) -> tuple[Json, str | None]:
        if "$ref" in node:
            name = str(node["$ref"]).rsplit("/", 1)[-1]
            return self.defs[name], name
        return node, None

    def text(self, node: Json) -> str:
        if "anyOf" in node:
            return " or ".join(self.text(branch) for branch in node["anyOf"])
        resolved, name = self.resolve(node)
        if "enum" in resolved:
            values = ", ".join(f"`{v}`" for v in resolved["enum"])
            return f"{name or 'enum'} ({values})"
        if "properties" in resolved:
            return f"{name or 'object'} (object)"
        text = str(resolved.get("type", "any"))
        if "format" in resolved:
            text += f" ({resolved['format']})"
        if "minimum" in resolved:
            text += f" ≥ {resolved['minimum']}"
        return text

    def nested(self, node: Json) -> Json | None:
        for branch in node.get("anyOf", [node]):
            resolved, _ = self.resolve(branch)
            if "properties" in resolved:
                return resolved
        return None

    def rows(self, schema: Json, prefix: str = "") -> list[str]:
        rows: list[str] = []
        required = set(schema.get("required", ()))
        for name, prop in schema["properties"].items():
            if name in required:
                need = "yes"
            else:
                need = f"no (default `{json.dumps(prop.get('default'))}`)"
            description = cell(prop.get("description", ""))
            rows.append(f"| `{prefix}{name}` | {cell(self.text(prop))} | {need} | {description} |")
            if (inner := self.nested(prop)) is not None:
                rows += self.rows(inner, f"{prefix}{name}.")
        return rows


def _consumers(topic: str, models: list[type[Event]]) -> list[str]:
    """The topic's consumer groups, each with the event types its service handles."""
    readers = consumers(topic)
    if not readers:
        return ["- **Consumers:** none in katflow"]
    lines = ["- **Consumers:**"]
    for service, handled in readers:
        which = (
            "every event type"
            if handled == models
            else ", ".join(f"[{cls.name}](#{cls.name.lower()})" for cls in handled) + " (skips the others)"
        )
        lines.append(f"  - {service} (group `{consumer_group(service)}`): {which}")
    return lines


def _example_record(cls: type[Event]) -> list[str]:
    envelope = example_envelope(cls)
    headers = [f"  {k}: {v.decode()}" for k, v in envelope.headers()]
    body = json.dumps(json.loads(envelope.body()), indent=2)
    return [
        "```text",
        f"topic:   {cls.topic}",
        f"key:     {envelope.event.key()}",
        "headers:",
        *headers,
        "```",
        "",
        "```json",
        body,
        "```",
    ]


def events_markdown() -> str:
    out = [
        GENERATED_NOTE,
        "",
        "# Event catalogue",
        "",
        "Every katflow event is a CloudEvents 1.0 event in Kafka **binary content mode**: the attributes "
        "travel as `ce_*` headers, the body is the event's JSON. Topic names are logical; a deployment "
        "may prefix them (`KATFLOW_TOPIC_PREFIX`). Each body has a JSON Schema in "
        "[schemas/](schemas/) whose `$id` is the record's `ce_dataschema`; [asyncapi.json](asyncapi.json) "
        "describes the same topics as an AsyncAPI 3 document. Integrators start with "
        "[integrators.md](integrators.md).",
        "",
        "## Headers",
        "",
        "| Header | Always | Meaning |",
        "| --- | --- | --- |",
        f"| `ce_specversion` | yes | `{SPECVERSION}` |",
        "| `ce_id` | yes | Event id (UUID). Stable across redeliveries and replays: deduplicate on it. |",
        "| `ce_source` | yes | `/katflow/<service>` of the producer. |",
        "| `ce_type` | yes | `io.katflow.<Name>.v<version>`: selects the body's schema. |",
        "| `ce_time` | yes | When the event happened, RFC 3339 UTC. |",
        "| `ce_subject` | yes | The record's key (course id; patient id on the restricted topic). |",
        "| `ce_dataschema` | yes | `https://katflow.io/schemas/<Name>/v<version>.json`, the body's schema. |",
        f"| `content-type` | yes | `{CONTENT_TYPE}` |",
        "| `ce_correlationid` | no | The request that started the chain of events. |",
        "| `ce_causationid` | no | `ce_id` of the event this one was caused by. |",
        "| `traceparent`, `tracestate` | no | W3C Trace Context of the span the event was emitted in: "
        "continue the trace from it (OpenTelemetry's propagator reads these headers as they are). |",
        "",
        "Ordering holds per key: all events of a course are on one partition, in the order they happened. "
        "Delivery is at least once. A consumer ignores `ce_type`s it does not know, and fields it does "
        "not know (katflow's own consumers drop them before validating). Within a version a "
        "schema changes only compatibly (a new field has a default); a breaking change gets a new "
        "`ce_type` version and schema file, and the old file stays as published.",
        "",
        "## Topics",
        "",
        "| Topic | Key | Partitions | Retention | Producer | Consumers | Restricted |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for spec in WORKFLOW_TOPICS:
        readers = ", ".join(service for service, _ in consumers(spec.name))
        keys = sorted({cls.key_field for cls in events_on(spec.name)})
        out.append(
            f"| [`{spec.name}`](#{spec.name.replace('.', '')}) | {', '.join(f'`{k}`' for k in keys)} "
            f"| {spec.partitions} | {days(spec.retention_ms)} | {spec.producer} "
            f"| {readers or '—'} | {'**yes**' if spec.restricted else 'no'} |"
        )
    for spec in WORKFLOW_TOPICS:
        models = events_on(spec.name)
        out += [
            "",
            f"## {spec.name}",
            "",
            ABOUT[spec.name],
            "",
            f"- **Key:** {'; '.join(sorted({key_text(cls) for cls in models}))}",
            f"- **Partitions:** {spec.partitions}",
            f"- **Retention:** {days(spec.retention_ms)} (`retention.ms={spec.retention_ms}`)",
            f"- **Producer:** {spec.producer}",
            *_consumers(spec.name, models),
            "- **Restricted:** "
            + (
                "**yes**: carries PHI. Only services that need it may read it (grant per-topic ACLs); "
                "never mirror it to analytics."
                if spec.restricted
                else "no: ids and non-identifying facts only."
            ),
            "- **Event types:** " + ", ".join(f"[{cls.name}](#{cls.name.lower()})" for cls in models),
        ]
        for cls in models:
            schema = event_schema(cls)
            out += [
                "",
                f"### {cls.name}",
                "",
                f"`{cls.event_type()}`: {summary(cls)}",
                "",
                f"Published by {publisher(cls)}; consumed by "
                + (", ".join(consumers_of(cls)) or "no katflow service")
                + ".",
                "",
                f"Schema: [schemas/{cls.name}/v{cls.version}.json](schemas/{cls.name}/v{cls.version}.json)",
                "",
                "| Field | Type | Required | Description |",
                "| --- | --- | --- | --- |",
                *_Types(schema).rows(schema),
                "",
                "Example record (the body is sent compact, without the indentation):",
                "",
                *_example_record(cls),
            ]
    out += [
        "",
        "## Dead-letter topics",
        "",
        "A consumer that cannot handle a record (invalid, unknown type, or failing after its retries) "
        "copies it, key, body and headers unchanged, to its service's dead-letter topic, adding `dlq_*` "
        "headers that say where it came from and why. Operators inspect and replay them with "
        "`katflow dlq list|show|replay --service <service>`.",
        "",
        "| Topic | Partitions | Retention | Written by |",
        "| --- | --- | --- | --- |",
    ]
    for spec in DEAD_LETTER_TOPICS:
        service = spec.name.split(".")[1]
        out.append(f"| `{spec.name}` | {spec.partitions} | {days(spec.retention_ms)} | {service} |")
    return "\n".join(out) + "\n"
