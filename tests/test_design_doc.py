"""docs/design.md's layer diagram names every library module (a new module is placed in it)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _diagram() -> str:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("## Layers", 1)[1]
    return section.split("```", 2)[1]


def missing(diagram: str) -> list:
    """The modules of ``explorer/`` (files and packages, faces excluded) the diagram lacks."""
    lib = ROOT / "explorer"
    names = [p.name for p in lib.glob("*.py") if p.name not in ("__init__.py", "cli.py")]
    names += [f"{p.name}/" for p in lib.iterdir() if (p / "__init__.py").exists()
              and p.name not in ("ui", "commands")]
    return sorted(n for n in names if not re.search(rf"(?<![\w.]){re.escape(n)}", diagram))


def test_the_layer_diagram_names_every_library_module():
    assert missing("explorer/prepare.py data.py") != []  # it can see a missing module
    assert missing(_diagram()) == []
