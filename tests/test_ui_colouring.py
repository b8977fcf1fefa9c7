"""Minority vs rest: the default on many-class pools, its raster, the switch, the faint subpool."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from explorer.data import from_frame
from explorer.index import build_index
from explorer.prepare import Prepared
from explorer.ui.map import LAYER_STYLE, SUBPOOL_ALPHA, SUBPOOL_SIZE, MapView
from explorer.ui.records import (MANY_CLASSES, MINORITY_VS_REST, REST_COLOR, default_color_by,
                                 minority_colors)
from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import synthetic_prepared


def many_classes(n_classes=45, n_minority=10, n=2000, seed=0):
    """A pool of ``n_classes`` classes: the first ``n_minority`` rare (20 rows each)."""
    rng = np.random.default_rng(seed)
    rare = np.repeat(np.arange(n_minority), 20)
    common = rng.integers(n_minority, n_classes, n - len(rare))
    cls = np.concatenate([rare, common])
    X = rng.normal(size=(n, 8)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    names = [f"c{c:02d}" for c in cls]
    ds = from_frame(pd.DataFrame({"text": [f"t{i}" for i in range(n)], "label": names}),
                    minority=[f"c{c:02d}" for c in range(n_minority)], name="many")
    return Prepared(dataset=ds, embeddings=X, coords=X[:, :2].copy(),
                    index=build_index(X, "exact"), cache_dir=None)


@pytest.fixture(scope="module")
def many():
    return many_classes()


def test_default_colouring_follows_the_number_of_classes(many):
    assert default_color_by(MANY_CLASSES) == "class"
    assert default_color_by(MANY_CLASSES + 1) == MINORITY_VS_REST
    assert len(many.dataset.classes) == 45
    assert ExplorerState(many).color_by == MINORITY_VS_REST
    sample = synthetic_prepared(500, dim=8, minority_share=0.05, projection="generated")
    assert len(sample.dataset.classes) == 2 and ExplorerState(sample).color_by == "class"
    # the user's choice wins
    assert ExplorerState(many, color_by="class").color_by == "class"


def test_minority_colours_are_distinct_and_the_rest_one_grey(many):
    ds = many.dataset
    colors = minority_colors(ds.classes, ds.minority)
    strong = [colors[ds.classes[c]] for c in ds.minority]
    assert len(set(strong)) == len(strong) == 10 and REST_COLOR not in strong
    assert {c for n, c in colors.items() if n not in strong and
            ds.classes.index(n) not in ds.minority} == {REST_COLOR}


def test_raster_has_n_minority_plus_one_colours_and_the_switch_rebuilds_it(many):
    st = ExplorerState(many)
    view = MapView(state=st)
    n_min = len(many.dataset.minority)
    assert len(view.raster.names) == n_min + 1
    assert len({tuple(c) for c in view.raster.colors.tolist()}) == n_min + 1
    minority_img = view._image.data["image"][0]
    st.color_by = "class"  # the switch: per-class colouring
    assert len(view.raster.names) == 45 + 1  # every class, and the unlabelled category
    assert not np.array_equal(view._image.data["image"][0], minority_img)
    st.color_by = MINORITY_VS_REST
    assert len(view.raster.names) == n_min + 1
    assert np.array_equal(view._image.data["image"][0], minority_img)
    legend = view.legend()
    assert "(all other classes: 35)" in legend and legend.count("(minority)") == n_min


def test_labelled_overlay_fill_follows_the_colouring(many):
    st = ExplorerState(many)
    view = MapView(state=st)
    fill = view.sources["labelled_fill"].data
    if not len(fill["color"]):
        st.build()
        st.step()
        fill = view.sources["labelled_fill"].data
    rest = [c for c, lab in zip(fill["color"], fill["label"])
            if many.dataset.classes.index(lab) not in many.dataset.minority]
    assert rest and set(rest) == {REST_COLOR}


def test_subpool_layer_is_small_and_faint():
    style = LAYER_STYLE["subpool"]
    assert style["size"] == SUBPOOL_SIZE <= 3 and style["alpha"] == SUBPOOL_ALPHA <= 0.35
    assert LAYER_STYLE["anchors"]["size"] >= 4 * SUBPOOL_SIZE
    assert LAYER_STYLE["queried"]["size"] >= 3 * SUBPOOL_SIZE
    st = ExplorerState(synthetic_prepared(500, dim=8, minority_share=0.05,
                                          projection="generated"))
    glyph = MapView(state=st).renderers["subpool"].glyph
    assert glyph.size == SUBPOOL_SIZE and glyph.fill_alpha == SUBPOOL_ALPHA
