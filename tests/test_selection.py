"""explorer.selection: rows in a box or a lasso on the map, the row under a click."""

import numpy as np
import pytest

from explorer.exceptions import ParameterError
from explorer.selection import nearest_row, rows_in_box, rows_in_polygon, selection_frame

from conftest import make_prepared

#: a 4 x 4 grid, row id = 4 * y + x
GRID = np.array([(x, y) for y in range(4) for x in range(4)], np.float32)


def test_box_bounds_inclusive_in_either_order():
    assert rows_in_box(GRID, (1, 2), (0, 1)).tolist() == [1, 2, 5, 6]
    assert rows_in_box(GRID, (2, 1), (1, 0)).tolist() == [1, 2, 5, 6]
    assert rows_in_box(GRID, (1.2, 1.8), (0, 3)).tolist() == []
    assert rows_in_box(GRID, (-1, 9), (-1, 9)).dtype == np.int64


def test_lasso_triangle_by_hand():
    # the triangle (0,0) (3.5,0) (0,3.5): rows with x + y < 3.5
    ids = rows_in_polygon(GRID, [-0.1, 3.5, -0.1], [-0.1, -0.1, 3.5])
    want = [4 * y + x for y in range(4) for x in range(4) if x + y <= 3]
    assert ids.tolist() == want


def test_lasso_concave_polygon_leaves_the_notch_out():
    # a U shape over the grid: the notch x in (0.5, 2.5), y > 1.5 is outside
    xs = [-0.5, 3.5, 3.5, 2.5, 2.5, 0.5, 0.5, -0.5]
    ys = [-0.5, -0.5, 3.5, 3.5, 1.5, 1.5, 3.5, 3.5]
    ids = set(rows_in_polygon(GRID, xs, ys).tolist())
    assert {9, 10, 13, 14}.isdisjoint(ids)
    assert {0, 3, 8, 11, 12, 15, 5, 6} <= ids


@pytest.mark.parametrize("xs, ys", [([0, 1], [0, 1]), ([0, 1, 2], [0, 1]),
                                    ([0, 1, np.nan], [0, 1, 2])])
def test_lasso_errors(xs, ys):
    with pytest.raises(ParameterError, match=r"^a lasso needs >= 3 finite vertices"):
        rows_in_polygon(GRID, xs, ys)


def test_coords_shape_error():
    with pytest.raises(ParameterError, match=r"^coords must have shape \(n, 2\), got \(16,\)"):
        rows_in_box(GRID[:, 0], (0, 1), (0, 1))


def test_nearest_row_and_its_distance_limit():
    assert nearest_row(GRID, 2.2, 0.9) == 6
    assert nearest_row(GRID, 2.4, 0.6, max_distance=0.3) is None
    assert nearest_row(GRID, 2.1, 1.1, max_distance=0.3) == 6


def test_selection_frame_has_ids_texts_labels_and_coords():
    p = make_prepared(np.random.default_rng(0).normal(size=(6, 3)), [0, 1, 0, 1, 0, -1])
    df = selection_frame(p, [5, 1])
    assert df.columns.tolist() == ["id", "text", "label", "x", "y"]
    assert df["id"].tolist() == [5, 1] and df["label"].tolist() == ["", "min"]
    np.testing.assert_allclose(df[["x", "y"]].to_numpy(), p.coords[[5, 1]])
