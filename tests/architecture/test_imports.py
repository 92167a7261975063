"""The layout's promises: parts depend one way, and no module imports itself back.

Dependency direction (design.md): bridge ← processing ← dashboard ← cli. Each part is
imported in a fresh interpreter in which the parts above it cannot be imported at all, so a
stray import (even one made by a sub-module at import time) fails here. Import cycles are
found statically from the module-level imports of every module, ``TYPE_CHECKING`` blocks
included, since a cycle there is still two modules that need each other.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PARTS = {
    "calfload.bridge": REPO / "firmware_bridge" / "calfload" / "bridge",
    "calfload.processing": REPO / "processing" / "calfload" / "processing",
    "calfload.dashboard": REPO / "dashboard" / "calfload" / "dashboard",
    "calfload.cli": REPO / "dashboard" / "calfload" / "cli",
}
ORDER = list(PARTS)
"""Bottom to top: a part may import the ones before it, never the ones after."""


def _modules(package: str, folder: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        if parts and parts[-1] == "__main__":
            continue
        yield ".".join([package, *parts]), path


def _all_modules() -> dict[str, Path]:
    return {
        name: path for package, folder in PARTS.items() for name, path in _modules(package, folder)
    }


_BLOCKER = """
import importlib, importlib.abc, sys
BLOCKED = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{{name}} imported while importing a part below it")
        return None
sys.meta_path.insert(0, Block())
failed = []
for module in {modules!r}:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        failed.append(f"{{module}}: {{exc}}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


@pytest.mark.parametrize("part", ORDER[:-1])
def test_part_imports_without_the_parts_above_it(part: str) -> None:
    above = ORDER[ORDER.index(part) + 1 :]
    modules = [name for name, _ in _modules(part, PARTS[part])]
    code = _BLOCKER.format(blocked=above, modules=modules)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{part} needs {above}:\n{done.stdout}{done.stderr}"


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The calfload modules that ``module`` imports at module level (any nesting of if/try)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                if isinstance(node, ast.Try):
                    for handler in node.handlers:
                        visit(handler.body)
                    visit(node.finalbody)

    visit(tree.body)
    return {name for name in found if name in known and name != module}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan 1972)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def _package_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first: add those edges."""
    full = {name: set(targets) for name, targets in graph.items()}
    for targets in full.values():
        for target in list(targets):
            parts = target.split(".")
            targets.update(
                ".".join(parts[:i]) for i in range(2, len(parts)) if ".".join(parts[:i]) in full
            )
    return full


def test_no_import_cycles() -> None:
    modules = _all_modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    graph = _package_edges(graph)
    for name, targets in graph.items():
        targets.discard(name)
        # a package's own __init__ importing its sub-modules is not a cycle with them
        targets.difference_update(t for t in list(targets) if name.startswith(t + "."))
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
