"""The kernel (katflow_shared) has no import cycles: its modules' module-level imports (``from . import
x`` and those under ``if TYPE_CHECKING:`` included), read from the source, form no loop."""

from __future__ import annotations

from pathlib import Path

from tests.support.import_graph import REPO, graph, modules


def cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """One loop, as the modules in import order back to the first, per strongly connected set."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(name: str) -> None:  # Tarjan; the kernel is far too small for the recursion limit
        order[name] = low[name] = len(order)
        stack.append(name)
        for target in edges[name]:
            if target not in order:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in stack:
                low[name] = min(low[name], order[target])
        if low[name] == order[name]:
            members = stack[stack.index(name) :]
            del stack[stack.index(name) :]
            if len(members) > 1:
                found.append(_loop(min(members), set(members), edges))

    for name in sorted(edges):
        if name not in order:
            visit(name)
    return found


def _loop(start: str, members: set[str], edges: dict[str, list[str]]) -> list[str]:
    """A shortest path from ``start`` through ``members`` back to ``start``."""
    paths = {start: [start]}
    todo = [start]
    while todo:
        name = todo.pop(0)
        for target in edges[name]:
            if target == start:
                return [*paths[name], start]
            if target in members and target not in paths:
                paths[target] = [*paths[name], target]
                todo.append(target)
    raise AssertionError(f"no loop through {start}")


def kernel_edges(source: Path) -> dict[str, list[str]]:
    known = {name: m for name, m in modules([source]).items() if name.startswith("katflow_shared")}
    return {name: [i.target for i in imported] for name, imported in graph(known).items()}


def test_the_kernel_has_no_import_cycle() -> None:
    edges = kernel_edges(REPO / "shared" / "src")
    assert {"katflow_shared.runtime", "katflow_shared.http", "katflow_shared.auth"} <= set(edges)
    assert "katflow_shared.audit" in edges["katflow_shared.runtime"]  # `from . import audit` is seen
    loops = [" -> ".join(loop) for loop in cycles(edges)]
    assert not loops, "import cycles in katflow_shared:\n" + "\n".join(loops)


def test_a_cycle_is_named(tmp_path: Path) -> None:
    """Not vacuous: a loop through a TYPE_CHECKING import and a ``from . import`` is found and named."""
    package = tmp_path / "katflow_shared"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text("from . import auth\n")
    (package / "auth.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .settings import Settings\n"
    )
    (package / "clock.py").write_text("from .settings import Settings\n")
    assert cycles(kernel_edges(tmp_path)) == [
        ["katflow_shared.auth", "katflow_shared.settings", "katflow_shared.auth"]
    ]
