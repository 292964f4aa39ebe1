"""Contract documentation generated from the code: ``katflow docs`` writes it, ``--check`` finds drift.

Generated, never edited by hand:

* ``docs/schemas/<Name>/v<version>.json``: the JSON Schema of each event type's body, with ``$id`` equal
  to the ``ce_dataschema`` the envelope carries and ``x-katflow`` metadata (topic, key, restricted, type);
* ``docs/asyncapi.json``: an AsyncAPI 3 document produced by FastStream from a broker that declares a
  publisher per event type and a subscriber per consuming service, completed with what FastStream does
  not know (CloudEvents headers, Kafka key, partitions, retention, consumer groups);
* ``docs/events.md``: the topic catalogue with field tables and an example record per event type;
* ``docs/configuration.md``: every ``KATFLOW_*`` environment variable of the services' settings.

Published schemas are frozen: regenerating refuses a change that would break existing subscribers
(:func:`breaking_changes`) unless the event's ``version`` is raised, and then the old version's file stays
as it is (only the current version's file is ever written).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from katflow_shared.contracts import EVENT_TYPES

from .asyncapi import asyncapi_document
from .common import ASYNCAPI_FILE, CONFIGURATION_FILE, EVENTS_FILE, dump_json, schema_path
from .configuration_md import configuration_markdown
from .events_md import events_markdown
from .schemas import compatibility_problems, event_schema, worktree_schemas


def generate() -> dict[str, str]:
    """Every generated file, repository-relative path -> content (current schema versions only)."""
    files = {schema_path(cls): dump_json(event_schema(cls)) for cls in EVENT_TYPES}
    files[ASYNCAPI_FILE] = dump_json(asyncapi_document(), sort_keys=True)
    files[EVENTS_FILE] = events_markdown()
    files[CONFIGURATION_FILE] = configuration_markdown()
    return files


def drift(root: Path, files: Mapping[str, str] | None = None) -> list[str]:
    """Generated files that are missing or differ from what the code produces now."""
    problems = []
    for path, text in (files if files is not None else generate()).items():
        target = root / path
        if not target.exists():
            problems.append(f"{path}: missing")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: out of date")
    return problems


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest folder above ``start`` (default: cwd) holding the workspace."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "shared" / "src" / "katflow_shared").is_dir():
            return folder
    return Path(__file__).resolve().parents[3]


def check(root: Path) -> list[str]:
    """Drift plus compatibility of the models with the schemas on disk (empty: all good)."""
    on_disk = worktree_schemas(root)
    return [f"drift: {p}" for p in drift(root)] + compatibility_problems(on_disk, on_disk)


def write(root: Path) -> list[str]:
    """Regenerate the docs; refuse (ValueError) when a model breaks its published schema."""
    on_disk = worktree_schemas(root)
    problems = compatibility_problems(on_disk, on_disk)
    if problems:
        raise ValueError("incompatible contract change:\n  " + "\n  ".join(problems))
    written = []
    for path, text in generate().items():
        target = root / path
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def run(check_only: bool, root: Path | None = None, out: Callable[[str], None] = print) -> int:
    """``katflow docs [--check]``."""
    root = root or find_root()
    if check_only:
        problems = check(root)
        for problem in problems:
            out(problem)
        out("docs up to date" if not problems else f"{len(problems)} problem(s); run 'katflow docs'")
        return 1 if problems else 0
    try:
        written = write(root)
    except ValueError as exc:
        out(str(exc))
        return 1
    for path in written:
        out(f"wrote {path}")
    out(f"docs up to date ({len(written)} file(s) written)")
    return 0
