"""The domain is framework-free: no module under services/*/src/*/domain/, nor a kernel module the
domain builds on, imports a web, database or messaging framework, directly or through the katflow
modules it imports (their parent packages too: Python runs those first). Read from the source."""

from __future__ import annotations

from pathlib import Path

from tests.support.import_graph import SOURCES, Import, Module, imports, modules, parents

FRAMEWORKS = frozenset({"fastapi", "starlette", "asyncpg", "aiokafka", "faststream"})
# The kernel's pure modules (packages with all their modules): errors the domain raises, what it
# reads and returns, and the roles settings and auth share. They must stay framework-free as well.
PURE_SHARED = (
    "katflow_shared.bodies",
    "katflow_shared.errors",
    "katflow_shared.clock",
    "katflow_shared.contracts",
    "katflow_shared.treatment_protocols",
    "katflow_shared.roles",
)


def framework_imports(start: str, known: dict[str, Module]) -> list[str]:
    """Every framework import ``start`` reaches, each as the chain of katflow modules leading to it."""
    chains = {start: [start]}
    todo = [start]
    found = []
    while todo:
        name = todo.pop()
        reached = [Import(p, 0) for p in parents(name) if p in known] + imports(known[name], known)
        for imported in reached:
            if imported.target.split(".")[0] in FRAMEWORKS:
                found.append(" -> ".join([*chains[name], f"{imported.target} (line {imported.line})"]))
            elif imported.target in known and imported.target not in chains:
                chains[imported.target] = [*chains[name], imported.target]
                todo.append(imported.target)
    return found


def test_domain_and_pure_kernel_modules_import_no_framework() -> None:
    known = modules()
    domain = [n for n in known if not n.startswith("katflow_shared") and n.split(".")[1:2] == ["domain"]]
    pure = [n for n in known if any(n == p or n.startswith(f"{p}.") for p in PURE_SHARED)]
    assert {n.split(".")[0] for n in domain} == {
        "katflow_intake",
        "katflow_scheduling",
        "katflow_notifications",
        "katflow_console",
    }
    assert len(pure) > len(PURE_SHARED)  # the packages' modules were found, not only their names
    offending = [chain for name in sorted(domain + pure) for chain in framework_imports(name, known)]
    assert not offending, "framework imports reached from the domain:\n" + "\n".join(offending)


def test_a_framework_reached_through_a_kernel_module_is_named(tmp_path: Path) -> None:
    """Not vacuous: a domain module importing the HTTP edge (as they did for RuleViolation) fails,
    and the failure names the path to the framework."""
    package = tmp_path / "katflow_example" / "domain"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "rules.py").write_text("from katflow_shared.http import rule_violation_handler\n")
    found = framework_imports("katflow_example.domain.rules", modules([tmp_path, *SOURCES]))
    via_http = "katflow_example.domain.rules -> katflow_shared.http -> "
    assert any(chain.startswith(f"{via_http}asyncpg (line ") for chain in found), found
    assert any(chain.startswith(f"{via_http}fastapi (line ") for chain in found), found
