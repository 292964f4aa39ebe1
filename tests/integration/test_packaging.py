"""Each package declares what it imports (issue 32).

Every package is installed alone into a fresh virtualenv exactly as its image installs it
(``uv sync --frozen --no-dev --no-editable --package <name>``: the package, katflow-shared and
their locked dependencies, nothing else from the workspace), and every module of it is imported
there. A dependency a module imports but its ``pyproject.toml`` does not declare fails here,
not at a container's start. uv's cache makes each install a few seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.infra import REPO


def workspace_packages() -> dict[str, list[str]]:
    """Every member of the uv workspace (a new one is covered without editing this test): its
    package name -> the import packages installed with it (its own and those of the workspace
    members it depends on, katflow_shared's at least, e.g. the console's katflow_tools)."""
    members = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    own: dict[str, set[str]] = {}
    needs: dict[str, set[str]] = {}
    for member in members:
        project = tomllib.loads((REPO / member / "pyproject.toml").read_text())
        name = project["project"]["name"]
        wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
        own[name] = {Path(path).name for path in wheel}
        sources = project.get("tool", {}).get("uv", {}).get("sources", {})
        needs[name] = {dep for dep, source in sources.items() if source.get("workspace")}

    def closure(name: str) -> set[str]:
        return own[name].union(*(closure(dep) for dep in needs[name] if dep in own))

    return {name: sorted(closure(name) | {"katflow_shared"}) for name in own}


PACKAGES = workspace_packages()

# Walk each package and import every module; print one line per failure.
IMPORT_ALL = textwrap.dedent(
    """
    import importlib, pkgutil, sys, traceback
    failed = []
    for top in sys.argv[1:]:
        pkg = importlib.import_module(top)
        names = [top] + [m.name for m in pkgutil.walk_packages(pkg.__path__, top + ".")]
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
        print(f"{top}: {len(names)} modules")
    for line in failed:
        print("FAILED", line)
    sys.exit(1 if failed else 0)
    """
)


@dataclass
class Installed:
    sync: subprocess.CompletedProcess[str]
    packages: set[str]  # the katflow_* import packages in the virtualenv
    imports: subprocess.CompletedProcess[str] | None


def install_alone_and_import(package: str, root: Path) -> Installed:
    uv = shutil.which("uv")
    assert uv, "uv is needed to install the package as its image does"
    venv = root / package / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT"))}
    env.update(UV_PROJECT_ENVIRONMENT=str(venv), UV_LINK_MODE="copy", UV_PYTHON_DOWNLOADS="never")
    sync = subprocess.run(
        [uv, "sync", "--frozen", "--no-dev", "--no-editable", "--package", package, "--quiet"]
        # built afresh from the working tree: uv's cache keys a local package by its pyproject.toml
        + [arg for name in PACKAGES for arg in ("--refresh-package", name)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    if sync.returncode != 0:
        return Installed(sync, set(), None)
    site = next((venv / "lib").glob("python*/site-packages"))
    installed = {p.name for p in site.glob("katflow_*") if p.is_dir() and not p.name.endswith("dist-info")}
    imports = subprocess.run(
        [str(venv / "bin" / "python"), "-c", IMPORT_ALL, *PACKAGES[package]],
        cwd=venv.parent,  # not the repository: nothing importable from the working tree
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(venv.parent)},
        capture_output=True,
        text=True,
        timeout=150,
    )
    return Installed(sync, installed, imports)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Installed]:
    """All packages at once (each its own virtualenv): the whole check stays well under a minute."""
    root = tmp_path_factory.mktemp("packaging")
    with ThreadPoolExecutor(max_workers=len(PACKAGES)) as pool:
        futures = {name: pool.submit(install_alone_and_import, name, root) for name in PACKAGES}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_a_package_installed_alone_imports_every_module(
    package: str, installed: dict[str, Installed]
) -> None:
    result = installed[package]
    assert result.sync.returncode == 0, result.sync.stderr
    # Only the package's own closure: the workspace's other members are not there to hide a gap.
    assert result.packages == set(PACKAGES[package])
    assert result.imports is not None
    assert result.imports.returncode == 0, (
        f"{package} installed alone:\n{result.imports.stdout}{result.imports.stderr}"
    )
