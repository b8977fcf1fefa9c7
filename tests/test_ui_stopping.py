"""When to stop, in the app without a browser: the random band and the per-run stop lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.stopping import add_stopping_columns
from explorer.ui.curves import CurvesView, records_frame, stopping_frame, stopping_html
from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import synthetic_prepared


@pytest.fixture(scope="module")
def pool():
    return synthetic_prepared(3000, dim=16, minority_share=0.05, projection="generated")


def test_records_frame_matches_the_library_rounds_table(pool):
    st = ExplorerState(pool, filters=["anchoral", "full"], subpool_size=300)
    for _ in range(3):
        st.step()
    view = st.experiment.session.experiment
    lib = view.rounds_frame()
    mine = stopping_frame(st.history)
    for run in st.runs:
        a = lib[lib["run"] == run].sort_values("round")
        b = mine[mine["run"] == run].sort_values("round")
        assert b["round"].tolist() == [0, 1, 2, 3]
        assert b["n_minority"].tolist() == a["n_minority"].tolist()
        assert b["n_labelled"].tolist() == a["n_labelled"].tolist()
        for col in ("minority_found_last_n", "stop_signal", "random_share_lo",
                    "random_share_hi", "random_expected_minority_share", "minority_left"):
            np.testing.assert_allclose(b[col].to_numpy(float), a[col].to_numpy(float),
                                       err_msg=col)


def test_curves_draw_one_band_and_a_line_per_run(pool):
    st = ExplorerState(pool, filters=["anchoral", "full"], subpool_size=300)
    view = CurvesView(state=st)
    view.__panel__()
    for _ in range(2):
        st.step()
    band = view._band.data
    assert len(band["budget"]) == 3 and (np.asarray(band["lo"]) <= np.asarray(band["hi"])).all()
    fig = view.figures()["minority-share"]
    bands = [r for r in fig.renderers if r.name == "random sampling"]
    assert len(bands) == 1  # one glyph for every run, not one per run
    html_ = view._stop.object
    assert html_.count('class="anchoral-stop-line"') == 2
    assert "minority found in the last 2 rounds" in html_


def test_every_line_kind_is_one_renderer_with_a_row_per_run(pool):
    """The lines are one MultiLine per kind and plot (a row per run, patched each round), not
    one renderer per run: BokehJS updates every renderer of a changed source."""
    from explorer.ui.curves import LINES
    from explorer.ui.records import run_label

    st = ExplorerState(pool, filters=["anchoral", "full"], subpool_size=300)
    view = CurvesView(state=st)
    view.__panel__()
    for _ in range(2):
        st.step()
    figs = view.figures()
    for plot, x, y, *_ in LINES:
        (r,) = [r for r in figs[plot].renderers if r.name == f"lines:{y}"]
        data = r.data_source.data
        assert list(data["run"]) == [run_label(k) for k in st.runs]
        assert [len(a) for a in data[x]] == [len(a) for a in data[y]] == [2, 2], (plot, y)
    data = view._lines.data
    anchoral, full = st.runs.index("anchoral/entropy"), st.runs.index("full/entropy")
    assert np.isnan(data["subpool_minority_share"][full]).all()  # the pool is its subpool
    assert np.isfinite(data["subpool_minority_share"][anchoral]).all()
    np.testing.assert_array_equal(data["round"][anchoral], [1, 2])
    # 9 line kinds + 6 point scatters + the band, whatever the number of runs
    renderers = [r for f in figs.values() for r in f.renderers
                 if r.data_source.name != "legend-stand-ins"]
    assert len(renderers) == len(LINES) + len(figs) + 1
    # every plot's ranges are the server's (padded around the data), sent with the round
    for plot, x, y, *_ in LINES:
        fig = figs[plot]
        xs = np.concatenate(data[x])
        ys = np.concatenate(data[y])
        ys = ys[np.isfinite(ys) & ((ys > 0) if fig.y_scale.__class__.__name__ == "LogScale"
                                   else True)]
        assert fig.x_range.start < xs.min() <= xs.max() < fig.x_range.end, plot
        assert fig.y_range.start <= ys.min() <= ys.max() <= fig.y_range.end, (plot, y)
    for plot in ("minority-share", "enrichment", "minority-f1"):
        assert figs[plot].y_range.start == 0


def test_stop_line_says_consider_stopping():
    df = pd.DataFrame({"run": "anchoral/<b>x</b>", "round": range(7),
                       "n_labelled": range(10, 80, 10), "n_minority": [2, 5, 5, 5, 5, 5, 5],
                       "n_queried": [0] + [10] * 6, "n_unlabelled": [0] + [100] * 6,
                       "pool_minority_share": [np.nan] + [0.2] * 6})
    text = stopping_html(add_stopping_columns(df))
    assert "no new minority for 5 rounds: consider stopping" in text
    assert 'data-stop="true"' in text and "<b>x</b>" not in text  # run names escaped
    assert records_frame([]).empty and stopping_html(pd.DataFrame()) == ""
