"""The explore state and view without a browser: searches, clicks, selections, highlights."""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pytest
from bokeh.events import SelectionGeometry, Tap

from explorer.ui.explore import ExploreView
from explorer.ui.explore_state import ExploreState
from explorer.ui.map import MapView
from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import synthetic_prepared

from conftest import make_prepared


class WordEncoder:
    """A text's vector is row ``int(first word)``'s."""

    model_id = "word"

    def __init__(self, X):
        self.X = X

    def encode(self, texts, show_progress=False):
        return np.vstack([self.X[int(t.split()[0])] for t in texts])


@pytest.fixture
def toy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 8))
    texts = np.array(["=HYPERLINK(\"http://x\") <b>bold</b>" if i == 5 else f"text {i}"
                      for i in range(200)], object)
    p = make_prepared(X, np.r_[np.zeros(180, int), np.ones(20, int)], texts=texts)
    p.coords = np.column_stack([np.arange(200) % 20, np.arange(200) // 20]).astype(np.float32)
    p.encoder = WordEncoder(p.embeddings)
    return p


def test_text_search_runs_in_the_worker_and_comes_back_through_schedule(toy):
    ex = ExploreState(toy, k=5)
    scheduled = []
    assert ex.search_text("7 words", schedule=scheduled.append)
    ex_busy = ex.busy
    for _ in range(200):  # the worker hands its callback to schedule
        if scheduled:
            break
        time.sleep(0.01)
    assert ex_busy and ex.result is None  # nothing changes until the callback runs
    scheduled[0]()
    assert not ex.busy and ex.result.ids[0] == 7 and len(ex.result) == 5
    assert "5 nearest rows to “7 words”" in ex.status


def test_row_search_click_and_errors(toy):
    ex = ExploreState(toy, k=4)
    assert ex.tap(3.1, 2.05, max_distance=0.5)  # row 2 * 20 + 3 = 43
    assert ex.result.query == 43 and 43 not in ex.result.ids and len(ex.result) == 4
    assert not ex.tap(3.5, 2.5, max_distance=0.2)  # nothing drawn there: no change
    assert ex.result.query == 43
    assert not ex.search_text("   ")
    assert ex.error.startswith("query='   ' must be a non-empty text")
    ex.k = 200
    assert not ex.search_row(3) and ex.error.startswith("k=200 must be an integer between 1 "
                                                        "and 199")


def test_text_search_on_a_pool_without_an_encoder_is_refused_with_the_reason():
    ex = ExploreState(synthetic_prepared(600, dim=8, projection="generated"))
    assert not ex.has_encoder and not ex.search_text("free prize")
    assert "has no text encoder" in ex.error and ex.result is None


def test_box_and_lasso_selection_count_summary_and_exports(toy):
    ex = ExploreState(toy)
    assert ex.select_box((0, 1), (8, 9)) == 4  # rows 160, 161, 180, 181
    assert ex.selection.tolist() == [160, 161, 180, 181] and ex.selection_how == "box"
    assert ex.selection_summary() == "<b>4</b> rows selected (box): maj 2, min 2"
    df = pd.read_csv(io.BytesIO(ex.export_selection("csv")))
    assert df["id"].tolist() == [160, 161, 180, 181]
    assert df.columns.tolist() == ["id", "text", "label", "x", "y"]
    assert ex.select_lasso([3.5, 6.5, 6.5, 3.5], [-0.5, -0.5, 0.5, 0.5]) == 3  # rows 4, 5, 6
    back = pd.read_csv(io.BytesIO(ex.export_selection("csv")))
    assert back.loc[back["id"] == 5, "text"].item().startswith("'=HYPERLINK")  # neutralised
    back = pd.read_parquet(io.BytesIO(ex.export_selection("parquet")))
    assert back.loc[back["id"] == 5, "text"].item().startswith("=HYPERLINK")  # exact
    assert ex.select_lasso([1], [1]) == 0 and ex.error.startswith("a lasso needs >= 3")
    ex.clear_selection()
    assert len(ex.selection) == 0 and ex.selection_summary() == ""


@pytest.fixture(scope="module")
def pool():
    return synthetic_prepared(3000, dim=16, minority_share=0.05)


def _n(view, name):
    return len(view.sources[name].data.get("x", ()))


def test_view_draws_highlights_from_clicks_and_selection_geometry(pool):
    st = ExplorerState(pool)
    m = MapView(state=st)
    fig = m.fig
    before = len(list(fig.references()))
    view = ExploreView(state=st, map=m)
    assert view.box_tool in fig.tools and view.lasso_tool in fig.tools
    assert view.box_tool.renderers == [] and view.lasso_tool.renderers == []
    # nothing highlighted yet: the tools only, no layers (a page nobody explores stays light)
    assert len(list(fig.references())) - before <= 8 and "explore_neighbours" not in m.sources
    assert view.veil is None
    # a click on a drawn row: it (a star) and its k neighbours are drawn, the rest veiled
    x, y = pool.coords[17]
    fig._trigger_event(Tap(fig, x=float(x), y=float(y)))
    assert view.explore.result.query == 17
    assert _n(m, "explore_neighbours") == view.explore.k and _n(m, "explore_query") == 1
    assert m.sources["explore_query"].data["id"].tolist() == [17]
    assert view.veil.visible and fig.select_one({"name": "pool"}).level == "image"
    # a box drawn with the select tool: the rows inside, computed on the server
    x0, x1 = np.percentile(pool.coords[:, 0], [20, 60])
    y0, y1 = np.percentile(pool.coords[:, 1], [20, 60])
    geom = {"type": "rect", "x0": x0, "x1": x1, "y0": y0, "y1": y1}
    fig._trigger_event(SelectionGeometry(fig, geometry=geom, final=False))
    assert len(view.explore.selection) == 0  # only the final geometry counts
    fig._trigger_event(SelectionGeometry(fig, geometry=geom, final=True))
    inside = ((pool.coords[:, 0] >= x0) & (pool.coords[:, 0] <= x1) &
              (pool.coords[:, 1] >= y0) & (pool.coords[:, 1] <= y1)).sum()
    assert inside > 0 and _n(m, "explore_selection") == inside
    # a lasso
    poly = {"type": "poly", "x": [x0, x1, x0], "y": [y0, y0, y1]}
    fig._trigger_event(SelectionGeometry(fig, geometry=poly, final=True))
    assert 0 < _n(m, "explore_selection") < inside and view.explore.selection_how == "lasso"
    view.explore.clear_result()
    view.explore.clear_selection()
    assert _n(m, "explore_neighbours") == 0 and _n(m, "explore_selection") == 0
    assert not view.veil.visible


def test_listing_escapes_texts(toy):
    st = ExplorerState(toy)
    view = ExploreView(state=st, map=MapView(state=st))
    done = []
    view.explore.search_text("5 hostile", schedule=done.append)  # row 5 first
    for _ in range(500):
        if done:
            break
        time.sleep(0.01)
    done[0]()
    html = view._listing()
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert html.count("<li") == view.explore.k
