"""The package's shape: every module imports, no import cycle, data/ never imports models/, and
one module reads and writes checkpoints (parsed with ast, no import side effects)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Dict, List, Sequence, Set

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
    assert "finetrack.utils.checkpoint" in GRAPH["finetrack.engine.base_trainer"]
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
    assert callers == {"finetrack.utils.checkpoint"}


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.endswith("__main__")))
def test_every_module_imports(name):
    importlib.import_module(name)


def _layer_violations(src: str, forbidden: Sequence[str]) -> Dict[str, List[str]]:
    bad = {n: sorted(m for m in deps if m.startswith(forbidden))
           for n, deps in GRAPH.items() if n == src or n.startswith(src + ".")}
    return {n: d for n, d in bad.items() if d}


def test_models_import_neither_engine_nor_data():
    assert _layer_violations("finetrack.models", ("finetrack.engine", "finetrack.data")) == {}


def test_losses_do_not_import_models():
    assert _layer_violations("finetrack.losses", ("finetrack.models",)) == {}


def test_the_layer_check_sees_a_violation():
    global GRAPH
    saved = GRAPH
    GRAPH = {"finetrack.models.x": {"finetrack.engine.y"}, "finetrack.modelsx": {"finetrack.engine.y"}}
    try:
        assert _layer_violations("finetrack.models", ("finetrack.engine",)) == {
            "finetrack.models.x": ["finetrack.engine.y"]}
    finally:
        GRAPH = saved


ROOT = PKG.parent
THIN = ("tools", "scripts")


def _private_uses(path: Path) -> List[str]:
    """``from finetrack.x import _name`` and ``module._name`` of our modules, in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported_modules = set()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("finetrack"):
            for a in node.names:
                if f"{node.module}.{a.name}" in MODULES:
                    imported_modules.add(a.asname or a.name)
                elif a.name.startswith("_") and not a.name.startswith("__"):
                    out.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}.{a.name}")
        elif isinstance(node, ast.Import):
            imported_modules.update(a.asname or a.name for a in node.names if a.name.startswith("finetrack"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in imported_modules):
            out.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    return out


def test_no_private_name_is_used_outside_its_module():
    files = sorted(PKG.rglob("*.py")) + [p for d in THIN for p in sorted((ROOT / d).glob("*.py"))]
    assert [u for p in files for u in _private_uses(p)] == []


def test_the_private_name_check_sees_one(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("from finetrack.config import _hidden\nfrom finetrack.inference import app\napp._models()\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert [u.split(": ")[1] for u in _private_uses(f)] == ["finetrack.config._hidden", "app._models"]
    finally:
        ROOT = saved


@pytest.mark.parametrize("folder", THIN)
def test_thin_entry_points_do_not_edit_sys_path(folder):
    edits = [str(p.relative_to(ROOT)) for p in sorted((ROOT / folder).glob("*.py"))
             if "sys.path" in p.read_text(encoding="utf-8")]
    assert edits == []


MAX_LINES = 600


def test_no_package_file_is_over_600_lines():
    big = {str(p.relative_to(ROOT)): n for p in sorted(PKG.rglob("*.py"))
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert big == {}


def test_each_mode_is_one_strategy_module():
    from finetrack.tracker.association import ASSOCIATIONS

    for mode, cls in ASSOCIATIONS.items():
        assert cls.__module__ == f"finetrack.tracker.association.{mode}"
    # the tracker's lifecycle does not know any mode by name
    src = (PKG / "tracker" / "tracker.py").read_text(encoding="utf-8")
    assert not [m for m in ("\"finetrack\"", "\"jde\"", "\"byte\"", "\"robust\"") if f"mode == {m}" in src]
