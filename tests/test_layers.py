"""The house's layers, read from the source (lazy imports included): no cycle, Panel only in the UI, the UI never imports the CLI."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "explorer"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set:
    """Every module ``path`` imports, at any depth of the file (absolute names)."""
    mod = _module(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)  # `from . import corpora`
    return out


def graph() -> dict:
    files = {_module(p): p for p in ROOT.rglob("*.py")}
    return {m: {i for i in _imports(p) if i in files and i != m} for m, p in files.items()}


def _cycles(g):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def _drop_packages(g):
    """Edges to a package's own ``__init__`` re-exports are not layering: ignore parent packages."""
    return {m: {i for i in deps if not m.startswith(i + ".")} for m, deps in g.items()}


def test_no_import_cycle_in_the_library():
    g = _drop_packages(graph())
    library = {m: {i for i in deps if not i.startswith("explorer.ui")}
               for m, deps in g.items() if not m.startswith("explorer.ui")}
    assert _cycles(library) == []


def test_no_panel_import_outside_the_ui():
    offenders = {m for m, p in ((_module(p), p) for p in ROOT.rglob("*.py"))
                 if not m.startswith(("explorer.ui", "explorer.commands.serve"))
                 and any(i == "panel" or i.startswith(("panel.", "holoviews", "bokeh.server"))
                         for i in _imports(p))}
    assert offenders == set()


def test_the_library_imports_neither_the_ui_nor_the_cli():
    g = graph()
    outer = ("explorer.ui", "explorer.commands", "explorer.cli")
    bad = {m: sorted(i for i in deps if i.startswith(outer))
           for m, deps in g.items() if not m.startswith(outer)}
    assert {m: d for m, d in bad.items() if d} == {}


def test_the_ui_never_imports_the_cli_and_has_no_cycle():
    g = _drop_packages(graph())
    ui = {m: deps for m, deps in g.items() if m.startswith("explorer.ui")}
    assert {m: sorted(d for d in deps if d.startswith("explorer.commands"))
            for m, deps in ui.items() if any(d.startswith("explorer.commands") for d in deps)} == {}
    assert _cycles(g) == []


def test_every_library_module_has_a_docstring_and_fits_600_lines():
    for path in ROOT.rglob("*.py"):
        if "ui" in path.relative_to(ROOT).parts:
            continue
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 600, path
        if path.name != "__init__.py" or text.strip():
            doc = ast.get_docstring(ast.parse(text))
            assert doc and doc.strip(), f"{path} has no docstring"


#: the UI modules that hold state and must import without Panel (a notebook or a test uses them;
#: ``jobs.make_scheduler`` imports Panel inside the function, when a page calls it)
UI_STATE = ("records", "driver", "jobs", "queue_state", "settings_state", "state", "sessions",
            "branching",
            "engine", "serving", "synthetic")


def test_the_ui_state_modules_import_no_panel_at_module_level():
    for name in UI_STATE:
        tree = ast.parse((ROOT / "ui" / f"{name}.py").read_text(encoding="utf-8"))
        top = [a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names]
        top += [n.module or "" for n in tree.body if isinstance(n, ast.ImportFrom)]
        bad = sorted(m for m in top if m.split(".")[0] in ("panel", "bokeh", "holoviews"))
        assert bad == [], (name, bad)


def test_every_ui_module_has_a_one_sentence_docstring_and_fits_600_lines():
    for path in (ROOT / "ui").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 600, path
        first = (ast.get_docstring(ast.parse(text)) or "").split("\n\n")[0]
        assert first.strip().endswith("."), f"{path}: no one-sentence summary"
