"""docs/security.md names, for each threat, the tests that prove its control: they must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "security.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)?::(\w+)`")


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_the_threat_model_names_exists() -> None:
    text = DOC.read_text()
    model = text[text.index("## Threat model") :]
    rows = [line for line in model.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert len(rows) >= 15
    missing = []
    for row in rows:
        cited = REFERENCE.findall(row)
        assert cited, f"no test named for: {row[:80]}"
        current: Path | None = None
        for file, name in cited:
            current = REPO / file if file else current
            assert current is not None, row
            if not current.exists() or name not in defined_tests(current):
                missing.append(f"{current.relative_to(REPO)}::{name}")
    assert missing == []
