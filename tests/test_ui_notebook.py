"""The notebook-sized API and the fixes behind the inline app (no browser: tests/ui/test_jupyter.py
runs the real JupyterLab)."""

from __future__ import annotations

import pandas as pd
import panel as pn
import pytest
from bokeh.document import Document

from explorer.exceptions import ParameterError
from explorer.ui import ExplorerApp, show
from explorer.ui import notebook, panel_patch


def _raising_on_msg(doc):
    """Panel's ``_on_msg`` shape: hold, apply the page's patch, unhold (a callback raises there),
    re-hold only when unhold returned."""
    def on_msg(self, ref, manager, msg):
        held = doc.callbacks.hold_value
        doc.hold()
        try:
            pass  # the patch
        finally:
            doc.unhold()
            raise ValueError("Must have equal len keys and value")  # raised inside unhold
            if held:  # noqa  (never reached: Panel's re-hold)
                doc.hold(held)
    return on_msg


def test_a_raising_page_message_leaves_the_view_held_as_it_was(monkeypatch):
    doc = Document()
    doc.hold("combine")  # what Panel does with a notebook view's document
    monkeypatch.setitem(pn.state._views, "ref-1", (None, None, doc, None))

    # without the fix the document is left unheld: later changes are never sent
    with pytest.raises(ValueError, match="equal len"):
        _raising_on_msg(doc)(None, "ref-1", None, {})
    assert doc.callbacks.hold_value is None

    doc.hold("combine")
    fixed = panel_patch.keep_held(_raising_on_msg(doc))
    with pytest.raises(ValueError, match="equal len"):
        fixed(None, "ref-1", None, {})
    assert doc.callbacks.hold_value == "combine"
    assert panel_patch.keep_held(fixed) is fixed  # applied once


def test_the_fix_is_installed_on_panel_once():
    from panel.viewable import Viewable

    panel_patch.install_hold_fix()
    first = Viewable._on_msg
    panel_patch.install_hold_fix()
    assert Viewable._on_msg is first and first._anchoral_keeps_held


def test_stylesheets_point_at_the_jupyter_server(monkeypatch):
    monkeypatch.delenv("ANCHORAL_JUPYTER_BASE_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_SERVICE_PREFIX", raising=False)
    assert notebook.jupyter_base_url() == "/"
    assert notebook.jupyter_base_url({"JUPYTERHUB_SERVICE_PREFIX": "/user/ana"}) == "/user/ana/"
    doc = Document()
    assert notebook.serve_styles_locally([doc, None]) == 1
    assert doc.template_variables["dist_url"] == "/panel-preview/static/extensions/panel/"
    assert notebook.serve_styles_locally([doc]) == 0


def test_outside_a_kernel_nothing_is_loaded():
    assert not notebook.in_notebook()
    assert notebook.extension() is False


def test_show_builds_the_app_and_two_apps_keep_their_own_sessions():
    app = show("sample", filters=["anchoral"], query_size=10)
    other = ExplorerApp.from_data("sample", filters=["randsub"], query_size=10)
    assert isinstance(app, ExplorerApp) and app.state is not other.state
    assert app.state.prepared is other.state.prepared  # the pool is shared, read-only

    records = app.state.step()
    assert [r.run for r in records] == ["anchoral/entropy"]
    assert app.state.job.status.startswith("Done: 1 round in")
    assert app.state.round == 1 and other.state.rounds_frame().empty
    assert len(app.state.queries_frame()) == 10


def test_the_programmable_side_forks_saves_and_exports(tmp_path):
    app = show("sample", filters=["anchoral"], query_size=10)
    app.state.step()
    key = app.fork(n_neighbors=20)
    assert key in app.state.runs and key != "anchoral/entropy"
    assert app.state.run == key

    rounds = pd.read_parquet(__import__("io").BytesIO(app.export("rounds", "parquet")))
    assert set(rounds["round"]) >= {1}
    assert app.save(tmp_path / "s") == str(tmp_path / "s")
    assert (tmp_path / "s").is_dir()


def test_fork_before_any_round_says_why():
    app = show("sample", filters=["anchoral"])
    with pytest.raises(ParameterError, match="Nothing to fork yet"):
        app.fork(n_neighbors=20)
