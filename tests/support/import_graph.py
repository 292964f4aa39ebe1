"""The import graph of katflow's own modules, read from their source (nothing is imported).

A module's imports are its module-level ``import`` and ``from ... import`` statements, those under
``if TYPE_CHECKING:`` (or any other module-level block) included; imports inside functions are not.
``from pkg import name`` names the module ``pkg.name`` when there is one, else ``pkg``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = [REPO / "shared" / "src", *sorted((REPO / "services").glob("*/src"))]


@dataclass(frozen=True)
class Import:
    target: str  # dotted module name, as written or resolved from a relative import
    line: int


@dataclass(frozen=True)
class Module:
    name: str
    path: Path

    @property
    def package(self) -> str:
        """The package relative imports start from."""
        return self.name if self.path.name == "__init__.py" else self.name.rpartition(".")[0]


def modules(sources: list[Path] = SOURCES) -> dict[str, Module]:
    """Every module under the source roots, by dotted name."""
    found: dict[str, Module] = {}
    for root in sources:
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join(parts)
            found[name] = Module(name, path)
    return found


def _module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue  # runs when called, not when the module is imported
        else:
            for field in ("body", "orelse", "finalbody"):  # if / try / with / class blocks
                yield from _module_level(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                yield from _module_level(handler.body)


def imports(module: Module, known: dict[str, Module]) -> list[Import]:
    """What ``module`` imports at module level, relative imports resolved to absolute names."""
    found = []
    for node in _module_level(ast.parse(module.path.read_text(), str(module.path)).body):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
            continue
        if node.level:
            base = module.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join([*base, node.module] if node.module else base)
        else:
            source = node.module or ""
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            found.append(Import(submodule if submodule in known else source, node.lineno))
    return list(dict.fromkeys(found))  # ``from x import a, b`` of a non-module ``x``: once


def graph(known: dict[str, Module]) -> dict[str, list[Import]]:
    """Each module's imports of other known modules (katflow's own)."""
    return {
        name: [i for i in imports(module, known) if i.target in known and i.target != name]
        for name, module in known.items()
    }


def parents(name: str) -> Iterator[str]:
    """The packages Python initialises before ``name``: ``a``, ``a.b`` for ``a.b.c``."""
    parts = name.split(".")
    for end in range(1, len(parts)):
        yield ".".join(parts[:end])
