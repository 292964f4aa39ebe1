"""The published contract: the event schemas as last handed to integrators, committed in one file.

``docs/schemas/`` is regenerated from the models with every change, so checking the models against
it (or against ``HEAD``, which in CI already holds the change) cannot catch a breaking change that was
regenerated and committed together with the model. ``docs/schemas/published.json`` is the baseline
instead: a copy of the schema files, changed only on purpose by ``katflow docs --publish`` (at a
release), which refuses to record a breaking change. It is in the repository, so a fresh clone of
main (CI's) has it; no tag or git history is needed.
"""

from __future__ import annotations

import json
from pathlib import Path

from .common import SCHEMAS_DIR, Json, dump_json
from .schemas import SchemaFiles

BASELINE_FILE = f"{SCHEMAS_DIR}/published.json"
ABOUT = (
    "The event schemas as last published: the baseline that `katflow docs --check` holds the models "
    "to (a breaking change against it is refused). Written only by `katflow docs --publish`; do not "
    "edit. Keys are paths under docs/schemas/."
)


def published_schemas(root: Path) -> SchemaFiles:
    """The baseline's schema files as they were published ({} when nothing has been published)."""
    target = root / BASELINE_FILE
    if not target.exists():
        return {}
    doc: Json = json.loads(target.read_text(encoding="utf-8"))
    schemas: Json = doc["schemas"]
    return {f"{SCHEMAS_DIR}/{name}": dump_json(schema) for name, schema in schemas.items()}


def baseline_text(files: SchemaFiles) -> str:
    """The baseline file recording ``files`` (repository-relative schema paths) as published."""
    prefix = f"{SCHEMAS_DIR}/"
    schemas = {path.removeprefix(prefix): json.loads(text) for path, text in sorted(files.items())}
    return dump_json({"about": ABOUT, "schemas": schemas})
