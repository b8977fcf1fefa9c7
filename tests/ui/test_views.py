"""The Panel views without a browser: notebook example, hover escaping, serve options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from explorer.exceptions import ParameterError
from explorer.ui.serving import app_options

ROOT = Path(__file__).resolve().parents[2]


def test_notebook_example_runs_and_renders():
    import panel as pn

    nb = json.loads((ROOT / "docs" / "notebooks" / "explorer.ipynb").read_text())
    ns = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "explorer.ipynb", "exec"), ns)
    app = ns["app"]
    assert app.state.n_done == 1 and app.state.round == 1
    assert pn.panel(app).get_root() is not None


def test_hover_and_table_show_dataset_text_as_text():
    from explorer.ui.map import HOVER
    from explorer.ui.table import _TEXT

    # Bokeh escapes tooltip fields unless formatted {safe}; Tabulator's plaintext sanitises
    assert not any("safe" in fmt for _, fmt in HOVER)
    assert _TEXT == {"type": "plaintext"}


def test_serve_options():
    opts = app_options(["data.csv", "--minority", "spam", "--filters", "anchoral,seals"])
    assert opts["source"] == "data.csv"
    assert opts["load"]["minority"] == ("spam",)
    assert opts["settings"]["filters"] == ["anchoral", "seals"]
    assert app_options([], {"ANCHORAL_DATA": "synthetic:1000"})["source"] == "synthetic:1000"
    with pytest.raises(ParameterError, match=r"unknown filter\(s\) \['nope'\]"):
        app_options(["--filters", "anchoral,nope"])


def test_cli_serve_rejects_a_bad_dataset(tmp_path, capsys):
    from explorer.cli import main

    assert main(["serve", str(tmp_path / "missing.csv"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("anchoral serve: error:") and len(err.strip().splitlines()) == 1
