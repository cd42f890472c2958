"""Every third-party module the code imports is declared in pyproject.toml.

A module that is only installed because something else needs it (aiokafka
through faust-streaming) works until that other package changes its own
requirements; so the sources' imports, read with ``ast``, are checked against
the declared requirements (runtime ones for the packages; runtime, dev and
bench ones for tests, benchmarks and scripts).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
#: The source folders of the installed packages (``package-dir``: models/ is fcplan.models).
PACKAGES = tuple(sorted(set(PYPROJECT["tool"]["setuptools"]["package-dir"].values())))
TOOLING = ("tests", "benchmarks", "scripts")
#: Import names of extras that differ from their distribution's name (checked where not installed).
DISTRIBUTION_OF = {"autogluon": "autogluon-timeseries"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    return normalize(re.split(r"[\s\[<>=!~;@]", spec.strip(), maxsplit=1)[0])


def declared(*extras: str) -> set[str]:
    project = PYPROJECT["project"]
    specs = list(project["dependencies"])
    for extra in extras:
        specs += project["optional-dependencies"][extra]
    return {requirement_name(s) for s in specs}


def top_level_imports(path: Path) -> set[str]:
    """Absolute imports of one file, by top-level module name (in functions too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def local_modules(folder: Path) -> set[str]:
    """Modules a folder's files import from each other (e.g. tests' helpers)."""
    return {p.stem for p in folder.rglob("*.py")} | {p.name for p in folder.rglob("*") if p.is_dir()}


def undeclared(folders: tuple[str, ...], allowed: set[str]) -> dict[str, list[str]]:
    """``module -> files`` for third-party imports whose distribution is not in ``allowed``."""
    distributions = packages_distributions()
    local = set(PACKAGES) | {"conftest"}
    missing: dict[str, list[str]] = {}
    # Modules of any folder checked together are local (tests import benchmarks' modules by path).
    own = local.union(*(local_modules(ROOT / folder) for folder in folders))
    for folder in folders:
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            for module in top_level_imports(path):
                if module in sys.stdlib_module_names or module in own or module == "__future__":
                    continue
                # Not installed here (an extra such as bench): its import name must be its declared name.
                dists = {normalize(d) for d in distributions.get(module, [])} or {
                    normalize(DISTRIBUTION_OF.get(module, module))}
                if not dists & allowed:
                    missing.setdefault(f"{module} (from {sorted(dists)})", []).append(str(path.relative_to(ROOT)))
    return missing


def test_every_module_the_packages_import_is_a_declared_runtime_dependency() -> None:
    missing = undeclared(PACKAGES, declared())
    assert not missing, f"add these to [project] dependencies in pyproject.toml: {missing}"


def test_every_module_the_tests_benchmarks_and_scripts_import_is_declared_somewhere() -> None:
    missing = undeclared(TOOLING, declared("dev", "bench"))
    assert not missing, f"add these to dependencies or an extra (dev, bench) in pyproject.toml: {missing}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [("import aiokafka.errors\n", {"aiokafka"}), ("def f():\n    from kafka import KafkaAdminClient\n", {"kafka"}),
     ("from . import sibling\nfrom .x import y\n", set())],
)
def test_the_import_reader_finds_imports_anywhere_but_relative_ones(tmp_path: Path, source, expected) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    assert top_level_imports(path) == expected


def test_a_module_installed_only_as_someone_elses_dependency_is_reported(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "uses.py").write_text("import aiokafka\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert "aiokafka (from ['aiokafka'])" in undeclared(("pkg",), {"faust-streaming"})


def test_a_hanging_test_fails_within_the_ci_limit() -> None:
    """pytest-timeout ends a test that waits without a bound (a clean clone's CI once hung there)."""
    assert "pytest-timeout" in declared("dev")
    timeout = PYPROJECT["tool"]["pytest"]["ini_options"]["timeout"]
    assert 0 < timeout <= 900, "one hung test must leave the rest of the 30-minute CI its time"
