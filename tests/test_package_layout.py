"""The package's shape: every module imports, no import cycle, data/ never imports models/, and
one module reads and writes checkpoints (parsed with ast, no import side effects)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Dict, List, Set

import pytest

PKG = Path(__file__).resolve().parents[1] / "finetrack"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: Dict[str, Path] = {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(name: str, path: Path) -> Set[str]:
    """finetrack modules ``name`` imports (top-level and inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: Set[str] = set()
    for node in ast.walk(tree):
        targets: List[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in MODULES:  # ``from finetrack.x import name``: the module x
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One import cycle as a list of modules (empty when there is none). Package ``__init__``
    edges to their own submodules are ignored (a package re-exporting its modules is no cycle)."""
    state: Dict[str, int] = {}
    stack: List[str] = []

    def edges(n: str):
        return [m for m in graph[n] if not m.startswith(n + ".")]

    def visit(n: str) -> List[str]:
        state[n] = 1
        stack.append(n)
        for m in edges(n):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return []

    for n in graph:
        if n not in state:
            found = visit(n)
            if found:
                return found
    return []


def test_the_graph_reader_sees_imports():
    assert "finetrack.engine.checkpoint" in GRAPH["finetrack.engine.base_trainer"]
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    assert _find_cycle(GRAPH) == []


def test_data_does_not_import_models():
    bad = {n: sorted(m for m in deps if m.startswith("finetrack.models"))
           for n, deps in GRAPH.items() if n.startswith("finetrack.data")}
    assert {n: d for n, d in bad.items() if d} == {}


def test_one_module_reads_and_writes_checkpoints():
    callers = set()
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in ("save", "load")
                    and isinstance(node.value, ast.Name) and node.value.id == "torch"):
                callers.add(name)
    assert callers == {"finetrack.engine.checkpoint"}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.endswith("__main__")))
def test_every_module_imports(name):
    importlib.import_module(name)


#: the tracker reads like ByteTrack's (issue 30 item 4): shared stages in tracker.py, one small
#: strategy per mode in tracker/association/, no file over this many lines
TRACKER_MAX_LINES = 600


def test_tracker_files_are_small():
    sizes = {str(p.relative_to(PKG.parent)): len(p.read_text(encoding="utf-8").splitlines())
             for p in sorted((PKG / "tracker").rglob("*.py"))}
    assert sizes["finetrack/tracker/tracker.py"] > 100  # the reader sees the files
    assert {f: n for f, n in sizes.items() if n > TRACKER_MAX_LINES} == {}


def test_each_mode_is_one_strategy_module():
    from finetrack.tracker.association import ASSOCIATIONS

    for mode, cls in ASSOCIATIONS.items():
        assert cls.__module__ == f"finetrack.tracker.association.{mode}"
    # the tracker's lifecycle does not know any mode by name
    src = (PKG / "tracker" / "tracker.py").read_text(encoding="utf-8")
    assert not [m for m in ("\"finetrack\"", "\"jde\"", "\"byte\"", "\"robust\"") if f"mode == {m}" in src]
