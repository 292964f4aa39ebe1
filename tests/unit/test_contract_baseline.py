"""The models are held to the last published contract (docs/schemas/published.json), not to HEAD.

Comparing with the schema files on disk or with ``HEAD`` misses a breaking change that was
regenerated and committed with its model: in CI both already hold the change. The committed baseline
changes only through ``katflow docs --publish``, which refuses to record a breaking change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from katflow_shared.contracts import ConsultationRequested
from katflow_tools import docs_gen
from katflow_tools.docs_gen import baseline, common, schemas
from tests.support.infra import REPO

Json = dict[str, Any]
PATH = common.schema_path(ConsultationRequested)  # docs/schemas/ConsultationRequested/v1.json


def test_the_repository_has_a_baseline_and_the_models_keep_to_it() -> None:
    published = baseline.published_schemas(REPO)
    assert PATH in published, f"no published baseline: run 'uv run katflow docs --publish' ({REPO})"
    on_disk = schemas.worktree_schemas(REPO)
    assert schemas.compatibility_problems(published, on_disk) == []
    assert docs_gen.incompatibilities(REPO) == []


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A tree with the docs generated from the models and published."""
    lines: list[str] = []
    assert docs_gen.run(root=tmp_path, out=lines.append) == 0, lines
    assert docs_gen.run(root=tmp_path, out=lines.append, publishing=True) == 0, lines
    assert baseline.published_schemas(tmp_path) == schemas.worktree_schemas(tmp_path)
    return tmp_path


def _edit_published(root: Path, change: Any) -> None:
    """What was published at the last release, as against the models now."""
    target = root / baseline.BASELINE_FILE
    doc: Json = json.loads(target.read_text())
    change(doc["schemas"]["ConsultationRequested/v1.json"])
    target.write_text(common.dump_json(doc))


def _had_referral_source(schema: Json) -> None:
    """Published with a required field the model (and the regenerated file) no longer has."""
    schema["properties"]["referral_source"] = {"type": "string"}
    schema["required"].append("referral_source")


def _lacked_preferred_route(schema: Json) -> None:
    """Published before the model gained an optional field (it has a default): an additive change."""
    del schema["properties"]["preferred_route"]


def test_a_breaking_change_against_the_baseline_is_refused(repo: Path) -> None:
    _edit_published(repo, _had_referral_source)
    on_disk = schemas.worktree_schemas(repo)
    assert schemas.compatibility_problems(on_disk, on_disk) == []  # what the files on disk cannot see
    expected = "ConsultationRequested v1: referral_source: field removed or renamed"
    assert expected in docs_gen.check(repo)
    lines: list[str] = []
    assert docs_gen.run(check_only=True, root=repo, out=lines.append) == 1
    assert expected in lines
    assert docs_gen.run(root=repo, out=lines.append) == 1  # regenerating refuses too
    assert expected in lines[-1]
    before = (repo / baseline.BASELINE_FILE).read_text()
    assert docs_gen.run(root=repo, out=lines.append, publishing=True) == 1  # and publishing
    assert lines[-1].startswith("not published:") and expected in lines[-1]
    assert (repo / baseline.BASELINE_FILE).read_text() == before


def test_an_additive_change_against_the_baseline_passes_and_is_published(repo: Path) -> None:
    _edit_published(repo, _lacked_preferred_route)
    assert docs_gen.check(repo) == []
    lines: list[str] = []
    assert docs_gen.run(root=repo, out=lines.append) == 0
    assert docs_gen.run(root=repo, out=lines.append, publishing=True) == 0
    assert lines[-1] == f"wrote {baseline.BASELINE_FILE}"
    published = json.loads(baseline.published_schemas(repo)[PATH])
    assert "preferred_route" in published["properties"]
    assert docs_gen.run(root=repo, out=lines.append, publishing=True) == 0
    assert lines[-1] == f"unchanged: {baseline.BASELINE_FILE}"


def test_a_published_type_or_superseded_version_must_stay(repo: Path) -> None:
    """The baseline's files must still be on disk: a superseded version unchanged, a type kept."""
    superseded = f"{common.SCHEMAS_DIR}/ConsultationRequested/v0.json"
    gone = f"{common.SCHEMAS_DIR}/ConsultationWithdrawn/v1.json"
    target = repo / baseline.BASELINE_FILE
    doc: Json = json.loads(target.read_text())
    doc["schemas"]["ConsultationRequested/v0.json"] = {"title": "an older version"}
    doc["schemas"]["ConsultationWithdrawn/v1.json"] = {"title": "a retired type"}
    target.write_text(common.dump_json(doc))
    problems = docs_gen.check(repo)
    assert f"{superseded}: a superseded schema version must stay exactly as published" in problems
    assert f"{gone}: published event type ConsultationWithdrawn has no model any more" in problems


def test_publishing_needs_the_docs_up_to_date(tmp_path: Path) -> None:
    lines: list[str] = []
    assert docs_gen.run(root=tmp_path, out=lines.append, publishing=True) == 1
    assert f"drift: {PATH}: missing" in lines[-1]
    assert not (tmp_path / baseline.BASELINE_FILE).exists()
