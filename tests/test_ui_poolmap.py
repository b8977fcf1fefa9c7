"""The map as plain Bokeh (no browser): one shared raster, the image's placement, the layers."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.ui import poolmap
from explorer.ui.lesson import TwoRunsMap
from explorer.ui.lesson_state import TwoRunsState
from explorer.ui.map import MAX_GLYPHS, MapView
from explorer.ui.poolmap import image_data, raster_size, scatter_style, shared_raster
from explorer.ui.raster import PoolRaster
from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import synthetic_prepared


@pytest.fixture(scope="module")
def pool():
    return synthetic_prepared(3000, dim=16, minority_share=0.05)


def _rows(view, name):
    return len(view.sources[name].data.get("x", ()))


def test_raster_size_caps_pixels_and_rounds_to_16():
    assert raster_size(640, 320) == (640, 320)
    w, h = raster_size(1400, 600)
    assert w * h <= poolmap.MAX_RASTER_PIXELS * 1.05 and w % 16 == 0 and h % 16 == 0
    assert abs(w / h - 1400 / 600) < 0.1  # the aspect is kept
    assert raster_size(None, None) == raster_size(*poolmap.DEFAULT_FRAME)
    assert raster_size(1405, 600) == raster_size(1400, 600)  # a small resize: same image


def test_image_covers_exactly_the_view():
    xy = np.array([[0.0, 0.0], [10.0, 5.0], [4.0, 2.0]], np.float32)
    raster = PoolRaster(xy, [0, 1, 0], ["a", "b"], {"a": "#000000", "b": "#ff0000"}, ["b"])
    data = image_data(raster, (0.0, 10.0), (0.0, 5.0), 20, 10)
    img = data["image"][0]
    assert img.shape == (10, 20) and img.dtype == np.uint32
    assert data["x"][0] == pytest.approx(0.0) and data["dw"][0] == pytest.approx(10.0)
    assert data["y"][0] == pytest.approx(0.0) and data["dh"][0] == pytest.approx(5.0)
    assert (img >> 24).max() > 0  # points drawn, with opacity


def test_shared_raster_is_built_once_per_key():
    calls = []

    def build():
        calls.append(1)
        return object()

    key = ("test-shared", 1)
    first = shared_raster(key, build)
    assert shared_raster(key, build) is first and len(calls) == 1
    assert shared_raster(("test-shared", 2), build) is not first and len(calls) == 2


def test_scatter_style_maps_holoviews_names():
    out = scatter_style(dict(marker="star", size=15, color="black", line_color="white",
                             alpha=0.5))
    assert out == {"marker": "star", "size": 15, "fill_color": "black", "line_color": "white",
                   "fill_alpha": 0.5, "line_alpha": 0.5}
    assert scatter_style(dict(color="red"))["line_color"] == "red"


def test_two_sessions_share_the_raster_and_the_first_image(pool):
    a = MapView(state=ExplorerState(pool))
    b = MapView(state=ExplorerState(pool))
    assert a.raster is b.raster
    assert a._image.data["image"][0] is b._image.data["image"][0]  # computed once
    names = [r.name for r in a.fig.renderers]
    assert names[0] == "pool" and {"Queried", "Subpool", "Anchors", "Labelled (fill: class)",
                                    "Preview subpool", "Anchor → query"} <= set(names)


def test_layers_follow_the_round_and_the_toggles(pool):
    st = ExplorerState(pool, filters=["anchoral", "full"], query_size=25)
    view = MapView(state=st)
    legend = view.legend_items
    assert _rows(view, "queried") == 0 and not legend["queried"].visible
    st.step()
    assert st.run == "anchoral/entropy" and st.round == 1
    assert _rows(view, "queried") == 25 and legend["queried"].visible
    assert _rows(view, "anchors") > 0 and _rows(view, "subpool") > 0
    rec = st.record()
    assert _rows(view, "labelled") == _rows(view, "labelled_fill") == len(rec.labelled) >= 100
    queried = view.sources["queried"].data
    assert set(queried) >= {"x", "y", "id", "text", "label", "score", "anchor", "similarity"}
    assert sorted(queried["id"]) == sorted(rec.queried.tolist())
    st.layers = ["labelled", "queried"]
    assert _rows(view, "subpool") == 0 and not legend["subpool"].visible
    assert _rows(view, "anchors") == 0 and _rows(view, "queried") == 25
    st.layers = ["labelled", "queried", "links"]
    assert len(view.sources["links"].data["x0"]) == int((rec.anchor_of >= 0).sum()) > 0
    st.round = 0  # the initial set: nothing queried
    assert _rows(view, "queried") == 0 and _rows(view, "labelled") == 100
    st.run = "full/entropy"
    st.round = 1
    assert _rows(view, "subpool") == 0  # the full pool has no subpool to draw
    assert view.renderers["queried"].glyph.fill_color != "black"


def test_large_layers_are_subsampled_and_say_so(pool, monkeypatch):
    monkeypatch.setattr("explorer.ui.map.MAX_GLYPHS", 10)
    st = ExplorerState(pool, filters=["anchoral"], query_size=25)
    view = MapView(state=st)
    st.step()
    assert _rows(view, "queried") == len(range(0, 25, 3)) <= 10  # every 3rd of 25
    label = view.legend_items["queried"].label
    assert "1 in 3 shown" in (label.get("value") if isinstance(label, dict) else label.value)
    assert MAX_GLYPHS > 10


def test_value_layer_recolours_the_background(pool):
    st = ExplorerState(pool, filters=["anchoral"])
    view = MapView(state=st)
    before = view._image.data["image"][0]
    st.step()
    st.color_by = "probability"
    coloured = view._image.data["image"][0]
    assert coloured is not before and not np.array_equal(coloured, before)
    st.color_by = "class"
    assert np.array_equal(view._image.data["image"][0], before)


def test_pan_renders_the_new_view(pool):
    st = ExplorerState(pool)
    view = MapView(state=st)
    (x0, x1), (y0, y1) = view.raster.x_range, view.raster.y_range

    class Event:  # a RangesUpdate: the left half of the pool
        pass

    ev = Event()
    ev.x0, ev.x1, ev.y0, ev.y1 = x0, (x0 + x1) / 2, y0, y1
    view._on_ranges(ev)
    data = view._image.data
    assert data["x"][0] == pytest.approx(x0, abs=1e-6)
    assert data["dw"][0] == pytest.approx((x1 - x0) / 2, rel=1e-6)


def test_two_runs_map_draws_both_only_a_only_b(pool):
    st = ExplorerState(pool, filters=["anchoral", "full"])
    two = TwoRunsState(st)
    view = TwoRunsMap(state=st, two=two)
    st.step()
    two.sync()
    view._update(now=True)
    cmp = two.comparison()
    for group in ("both", "only A", "only B"):
        assert _rows(view, group) == int((cmp.points["group"] == group).sum())
    assert view.fig.name == "anchoral-two-runs"
