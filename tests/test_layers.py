"""The house's layers, read from the source with ``ast``: imports run downward only.

Floors, bottom up: core <- storage <- streams, models, planner, simulator <- app.
The dashboard reads core, storage and planner. Nothing imports the app. A cycle
between files or between packages fails, and so does an import of an old top-level
name (``models``, ``streams``, ...) that squats a generic name in a user's environment.
Imports under ``if TYPE_CHECKING:`` are for type hints only and are not counted.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Package -> floor. A package may import its own modules and those of lower floors.
FLOORS = {
    "fcplan.core": 0,
    "fcplan.storage": 1,
    "fcplan.streams": 2,
    "fcplan.models": 2,
    "fcplan.planner": 2,
    "fcplan.simulator": 2,
    "fcplan.dashboard": 3,
    "fcplan.app": 4,
}
#: Explicit allowances where the floor number is not enough.
ALLOWED = {"fcplan.dashboard": {"fcplan.core", "fcplan.storage", "fcplan.planner"}}
OLD_NAMES = ("models", "streams", "planner", "dashboard")


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def source_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every package of the namespace."""
    config = _setuptools()
    dirs: dict[str, str] = config["package-dir"]
    modules: dict[str, Path] = {}
    for package in config["packages"]:
        base = next(p for p in sorted(dirs, key=len, reverse=True) if package == p or package.startswith(p + "."))
        folder = ROOT / dirs[base] / Path(*package[len(base) :].strip(".").split(".") if package != base else ())
        for path in folder.glob("*.py"):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return modules


def _under_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[tuple[str, list[str], int]]:
    """``(module, names, line)`` of every absolute import, but those for type checking only."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _under_type_checking(node):
            yield from (item for child in node.orelse for item in _imports(ast.Module([child], [])))
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [a.name for a in node.names], node.lineno
        yield from _imports(node)


def import_graph() -> tuple[dict[str, set[str]], list[str]]:
    """Module -> the fcplan modules it imports; and the imports of old top-level names."""
    modules = source_modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    old: list[str] = []
    for name, path in modules.items():
        for module, names, line in _imports(ast.parse(path.read_text(), str(path))):
            if module.split(".")[0] in OLD_NAMES:
                old.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            if module != "fcplan" and not module.startswith("fcplan."):
                continue
            for target in [f"{module}.{n}" for n in names] + [module]:
                if target in modules:  # ``from fcplan.app import cli`` imports fcplan.app.cli
                    graph[name].add(target)
                    if target != module:
                        break
            graph[name].discard(name)
    return graph, old


def package_of(module: str) -> str:
    return next((p for p in sorted(FLOORS, key=len, reverse=True) if module == p or module.startswith(p + ".")),
                "fcplan")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as a path that ends where it starts, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in sorted(graph.items()):
        here = package_of(module)
        for target in sorted(targets):
            there = package_of(target)
            if there == here or there == "fcplan":
                continue
            if here == "fcplan" and module != "fcplan.__main__":
                bad.append(f"{module} -> {target} (the package root imports nothing)")
            elif here in ALLOWED:
                if there not in ALLOWED[here]:
                    bad.append(f"{module} -> {target} ({here} reads only {sorted(ALLOWED[here])})")
            elif here != "fcplan" and FLOORS[there] >= FLOORS[here]:
                bad.append(f"{module} -> {target} ({here} is on floor {FLOORS[here]}, {there} on {FLOORS[there]})")
    return bad


def test_every_package_folder_is_installed():
    config = _setuptools()
    listed = set(config["packages"])
    found = set()
    for package, folder in config["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]))
    missing = sorted(p for p in found - listed if not any(p.startswith(q + ".") and q in found - listed for q in found))
    assert not (found - listed), f"add {missing} to [tool.setuptools] packages in pyproject.toml"


def test_no_module_imports_an_old_top_level_name():
    _, old = import_graph()
    assert not old, "import these as fcplan.<name> (run /work/coord/i12_rewrite.py):\n" + "\n".join(old)


def test_no_cycle_between_files():
    graph, _ = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_cycle_between_packages():
    graph, _ = import_graph()
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        packages.setdefault(package_of(module), set()).update(
            package_of(t) for t in targets if package_of(t) != package_of(module)
        )
    cycle = find_cycle(packages)
    assert cycle is None, "package cycle: " + " -> ".join(cycle or [])


def test_imports_run_downward_only():
    graph, _ = import_graph()
    bad = upward_imports(graph)
    assert not bad, "upward or sideways imports:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"fcplan.models.a": {"fcplan.streams.b"}}, "floor 2"),
        ({"fcplan.core.a": {"fcplan.storage"}}, "floor 0"),
        ({"fcplan.dashboard.a": {"fcplan.models.b"}}, "reads only"),
        ({"fcplan.planner.a": {"fcplan.app.cli"}}, "floor 2"),
    ],
)
def test_the_checker_sees_an_upward_import(graph, expected):
    assert expected in "\n".join(upward_imports(graph))


def test_the_checker_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
