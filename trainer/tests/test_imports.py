"""The package's modules import one another without a cycle (counting
imports inside functions too, which would otherwise hide one), and each
imports cleanly on its own in a fresh interpreter."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "edged_train"
SOURCE = Path(__file__).resolve().parents[1] / PACKAGE


def _module_names() -> list[str]:
    return sorted(PACKAGE if p.stem == "__init__" else f"{PACKAGE}.{p.stem}" for p in SOURCE.glob("*.py"))


def intra_imports(module: str, source: str, modules: set[str]) -> set[str]:
    """The modules of `modules` that `source` (the text of `module`) imports
    anywhere: at module level, in functions or in classes; relative
    (``from . import x``, ``from .x import y``) or absolute."""
    package = module if module == PACKAGE else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name  # the longest prefix that is one of ours
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name:
                    found.add(name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target not in modules:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module of the package → the package modules it imports."""
    modules = set(_module_names())
    return {m: intra_imports(m, (SOURCE / ("__init__.py" if m == PACKAGE else m.split(".")[-1] + ".py")).read_text(),
                             modules) for m in modules}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of `graph` as [a, b, ..., a], or None when it has none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        if m in path:
            return path[path.index(m):] + [m]
        if m in done:
            return None
        path.append(m)
        for n in sorted(graph.get(m, ())):
            cycle = visit(n)
            if cycle:
                return cycle
        path.pop()
        done.add(m)
        return None

    for m in sorted(graph):
        cycle = visit(m)
        if cycle:
            return cycle
    return None


MODULES = {PACKAGE, f"{PACKAGE}.a", f"{PACKAGE}.b", f"{PACKAGE}.c"}


@pytest.mark.parametrize("source,want", [
    ("from . import a, b\n", {"a", "b"}),
    ("from .a import thing\n", {"a"}),
    ("from . import __version__\n", {PACKAGE}),
    ("def f():\n    from .b import thing\n", {"b"}),
    ("class K:\n    def f(self):\n        from . import c\n", {"c"}),
    ("import edged_train.a\nfrom edged_train import b\nfrom edged_train.c import x\n", {"a", "b", "c"}),
    ("import os\nfrom typing import Any\nfrom .d import y\n", set()),  # outside, or no such module
])
def test_intra_imports(source: str, want: set[str]) -> None:
    got = intra_imports(f"{PACKAGE}.m", source, MODULES)
    assert got == {w if w == PACKAGE else f"{PACKAGE}.{w}" for w in want}, source


@pytest.mark.parametrize("graph,cycle", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b", "c"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": {"b"}}, ["b", "b"]),
])
def test_find_cycle(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


def test_no_import_cycle() -> None:
    graph = import_graph()
    assert sum(len(v) for v in graph.values()) > 0, f"no intra-package imports found under {SOURCE}"
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle: {' -> '.join(cycle or [])}"


@pytest.mark.parametrize("module", _module_names())
def test_module_imports_alone(module: str) -> None:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    p = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=300,
                       cwd=SOURCE.parent, env=env)
    assert p.returncode == 0, f"import {module} exited {p.returncode}\nstderr:\n{p.stderr[-4000:]}"
