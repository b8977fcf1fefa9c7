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
    assert opts["options"].minority == ("spam",)
    assert opts["settings"]["filters"] == ["anchoral", "seals"]
    assert app_options([], {"ANCHORAL_DATA": "synthetic:1000"})["source"] == "synthetic:1000"
    with pytest.raises(ParameterError, match=r"unknown filter\(s\) \['nope'\]"):
        app_options(["--filters", "anchoral,nope"])


def test_cli_serve_rejects_a_bad_dataset(tmp_path, capsys):
    from explorer.cli import main

    assert main(["serve", str(tmp_path / "missing.csv"), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("anchoral serve: error:") and len(err.strip().splitlines()) == 1


def test_the_ui_offers_exactly_what_the_library_registers():
    from explorer import registry
    from explorer.ui.actions import ForkPreview
    from explorer.ui.controls import ControlsView
    from explorer.ui.serving import add_arguments
    from explorer.ui.state import ExplorerState
    from explorer.ui.synthetic import synthetic_prepared

    st = ExplorerState(synthetic_prepared(1000, dim=8))
    controls, fork = ControlsView(state=st), ForkPreview(state=st)

    def offered(widget):
        opts = widget.options
        return set(opts.values()) if isinstance(opts, dict) else set(opts)

    def menu(table):
        return {c.label: c.name for c in table.values()}

    assert controls.filters.options == menu(registry.FILTERS)
    assert controls.model.options == menu(registry.MODELS)
    assert controls.sampling.options == menu(registry.SAMPLING)
    assert offered(controls.strategy) == offered(fork.strategy) == set(registry.STRATEGIES)
    assert offered(controls.anchor_strategy) == offered(fork.anchor_strategy) == set(
        registry.ANCHOR_STRATEGIES)
    assert list(fork.strategy.options)[-1] == "random"  # the baseline last in the menu
    parser = __import__("argparse").ArgumentParser()
    add_arguments(parser)
    choices = {a.dest: a.choices for a in parser._actions}
    assert tuple(choices["strategy"]) == tuple(registry.STRATEGIES)
    assert tuple(choices["model"]) == tuple(registry.MODELS)
