"""Contract documentation generated from the code: ``katflow docs`` writes it, ``--check`` finds drift.

Generated, never edited by hand:

* ``docs/schemas/<Name>/v<version>.json``: the JSON Schema of each event type's body, with ``$id`` equal
  to the ``ce_dataschema`` the envelope carries and ``x-katflow`` metadata (topic, key, restricted, type);
* ``docs/asyncapi.json``: an AsyncAPI 3 document produced by FastStream from a broker that declares a
  publisher per event type and a subscriber per consuming service, completed with what FastStream does
  not know (CloudEvents headers, Kafka key, partitions, retention, consumer groups);
* ``docs/events.md``: the topic catalogue with field tables and an example record per event type;
* ``docs/configuration.md``: every ``KATFLOW_*`` environment variable of the services' settings.

Published schemas are frozen: regenerating, ``--check`` and ``--publish`` refuse a change that would
break existing subscribers (``compat.breaking_changes``) unless the event's ``version`` is raised, and
then the old version's file stays as it is (only the current version's file is ever written). What is
published is ``docs/schemas/published.json`` (``baseline``), recorded by ``katflow docs --publish``;
the schema files on disk are held to it as well as to the models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from katflow_shared.contracts import EVENT_TYPES

from .asyncapi import asyncapi_document
from .baseline import BASELINE_FILE, baseline_text, published_schemas
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
    return Path(__file__).resolve().parents[4]


def incompatibilities(root: Path) -> list[str]:
    """The models against the schema files on disk and against the published baseline (empty: none).

    The files on disk guard a change that is not committed yet; the baseline guards what integrators
    were given, also when a breaking change was regenerated and committed with its model."""
    on_disk = worktree_schemas(root)
    problems = compatibility_problems(on_disk, on_disk)
    problems += compatibility_problems(published_schemas(root), on_disk)
    return list(dict.fromkeys(problems))


def check(root: Path) -> list[str]:
    """Drift plus compatibility of the models with the schemas on disk and the published ones."""
    return [f"drift: {p}" for p in drift(root)] + incompatibilities(root)


def write(root: Path) -> list[str]:
    """Regenerate the docs; refuse (ValueError) when a model breaks a published schema."""
    problems = incompatibilities(root)
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


def publish(root: Path) -> bool:
    """Record the schema files on disk as the published baseline (False: it already was). Refused
    (ValueError) when the docs are not up to date or a model breaks what was published before."""
    problems = check(root)
    if problems:
        raise ValueError("not published:\n  " + "\n  ".join(problems))
    text = baseline_text(worktree_schemas(root))
    target = root / BASELINE_FILE
    if target.exists() and target.read_text(encoding="utf-8") == text:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return True


def run(
    check_only: bool = False,
    root: Path | None = None,
    out: Callable[[str], None] = print,
    *,
    publishing: bool = False,
) -> int:
    """``katflow docs [--check | --publish]``."""
    root = root or find_root()
    if check_only:
        problems = check(root)
        for problem in problems:
            out(problem)
        out("docs up to date" if not problems else f"{len(problems)} problem(s); run 'katflow docs'")
        return 1 if problems else 0
    try:
        if publishing:
            changed = publish(root)
            out(f"{'wrote' if changed else 'unchanged:'} {BASELINE_FILE}")
            return 0
        written = write(root)
    except ValueError as exc:
        out(str(exc))
        return 1
    for path in written:
        out(f"wrote {path}")
    out(f"docs up to date ({len(written)} file(s) written)")
    return 0
