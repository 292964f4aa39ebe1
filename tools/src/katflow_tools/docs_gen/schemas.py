"""The JSON Schema files: one per event type and version, and their compatibility with the published ones."""

from __future__ import annotations

import json
from pathlib import Path

from katflow_shared.contracts import EVENT_TYPES, Event

from .common import JSON_SCHEMA_DIALECT, SCHEMAS_DIR, Json, schema_url
from .compat import breaking_changes
from .examples import key_fallback


def event_schema(cls: type[Event]) -> Json:
    """The JSON Schema of ``cls``'s body, identified by the envelope's ``ce_dataschema``."""
    meta: Json = {
        "type": cls.event_type(),
        "version": cls.version,
        "topic": cls.topic,
        "key": cls.key_field,
        "restricted": cls.restricted,
    }
    if (fallback := key_fallback(cls)) is not None:
        meta["key_fallback"] = fallback
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_url(cls),
        **cls.model_json_schema(),
        "x-katflow": meta,
    }


SchemaFiles = dict[str, str]  # repository-relative path -> text


def worktree_schemas(root: Path) -> SchemaFiles:
    base = root / SCHEMAS_DIR
    if not base.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(base.glob("*/v*.json"))
    }


def compatibility_problems(baseline: SchemaFiles, current: SchemaFiles | None = None) -> list[str]:
    """Check the models against published schemas (``baseline``); ``current``: the files on disk now.

    The current version of each event must be compatible with its published schema; a published older
    version must still be there, unchanged; a published event type or version must not disappear.
    """
    problems: list[str] = []
    by_name = {cls.name: cls for cls in EVENT_TYPES}
    for path, text in sorted(baseline.items()):
        parts = Path(path).parts
        name, version = parts[-2], int(Path(path).stem.removeprefix("v"))
        cls = by_name.get(name)
        if cls is None:
            problems.append(f"{path}: published event type {name} has no model any more")
        elif version > cls.version:
            problems.append(f"{path}: published v{version} but the model {name} is v{cls.version}")
        elif version == cls.version:
            breaking = breaking_changes(json.loads(text), event_schema(cls))
            problems += [f"{name} v{version}: {problem}" for problem in breaking]
            if breaking:
                problems.append(
                    f"{name} v{version}: to make this change, raise {name}.version to {version + 1} "
                    f"(v{version}.json stays as published)"
                )
        elif current is not None and current.get(path) != text:
            problems.append(f"{path}: a superseded schema version must stay exactly as published")
    return problems
