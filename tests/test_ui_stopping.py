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


def test_stop_line_says_consider_stopping():
    df = pd.DataFrame({"run": "anchoral/<b>x</b>", "round": range(7),
                       "n_labelled": range(10, 80, 10), "n_minority": [2, 5, 5, 5, 5, 5, 5],
                       "n_queried": [0] + [10] * 6, "n_unlabelled": [0] + [100] * 6,
                       "pool_minority_share": [np.nan] + [0.2] * 6})
    text = stopping_html(add_stopping_columns(df))
    assert "no new minority for 5 rounds: consider stopping" in text
    assert 'data-stop="true"' in text and "<b>x</b>" not in text  # run names escaped
    assert records_frame([]).empty and stopping_html(pd.DataFrame()) == ""
