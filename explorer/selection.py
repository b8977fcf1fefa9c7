"""Rows of a pool inside a region of its 2-D map (a box or a lasso), and the row under a click.

A datashaded map has no glyph per row for a browser selection tool to pick, so the page sends
the region's *geometry* and the server finds the rows here, from the pool's coordinates. Every
function takes and returns global row ids (int64, ascending).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .exceptions import ParameterError


def _coords(coords) -> np.ndarray:
    xy = np.asarray(coords)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ParameterError(f"coords must have shape (n, 2), got {xy.shape}; pass the pool's "
                             "2-D map coordinates (prepared.coords)")
    return xy


def rows_in_box(coords, x_range, y_range) -> np.ndarray:
    """Ids of the rows with ``x0 <= x <= x1`` and ``y0 <= y <= y1`` (bounds in either order).

    Parameters
    ----------
    coords : array of shape (n, 2)
        The map coordinates of every row.
    x_range, y_range : (float, float)
        The box's bounds in data coordinates.
    """
    xy = _coords(coords)
    (x0, x1), (y0, y1) = sorted(map(float, x_range)), sorted(map(float, y_range))
    inside = (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
    return np.flatnonzero(inside).astype(np.int64)


def rows_in_polygon(coords, xs, ys) -> np.ndarray:
    """Ids of the rows inside the polygon with vertices ``(xs[i], ys[i])`` (a lasso).

    The polygon is closed implicitly; points on its edge may fall either way. Only rows in the
    polygon's bounding box are tested (``matplotlib.path.Path.contains_points``).
    """
    from matplotlib.path import Path

    xy = _coords(coords)
    xs, ys = np.asarray(xs, float).ravel(), np.asarray(ys, float).ravel()
    if len(xs) != len(ys) or len(xs) < 3 or not np.isfinite(xs).all() or not np.isfinite(ys).all():
        raise ParameterError(f"a lasso needs >= 3 finite vertices with as many x as y, got "
                             f"{len(xs)} x and {len(ys)} y; draw a closed region on the map")
    near = rows_in_box(xy, (xs.min(), xs.max()), (ys.min(), ys.max()))
    if not len(near):
        return near
    path = Path(np.column_stack([xs, ys]))
    inside = path.contains_points(np.asarray(xy[near], float))
    return near[inside]


def nearest_row(coords, x, y, max_distance=None) -> int | None:
    """The id of the row nearest to ``(x, y)`` on the map, or None when none lies within
    ``max_distance`` (data units; None: no limit)."""
    xy = _coords(coords)
    if not len(xy):
        return None
    d2 = (xy[:, 0] - float(x)) ** 2 + (xy[:, 1] - float(y)) ** 2
    i = int(np.argmin(d2))
    if max_distance is not None and d2[i] > float(max_distance) ** 2:
        return None
    return i


def selection_frame(prepared, ids) -> pd.DataFrame:
    """One row per selected id: id, text, label (``""`` without one), x, y (map coordinates)."""
    ids = np.asarray(ids, np.int64)
    ds = prepared.dataset
    y = ds.y[ids]
    df = pd.DataFrame({"id": ids, "text": [str(t) for t in ds.texts[ids]],
                       "label": [ds.classes[c] if c >= 0 else "" for c in y]})
    if prepared.coords is not None:
        xy = np.asarray(prepared.coords)[ids]
        df["x"], df["y"] = xy[:, 0].astype(np.float32), xy[:, 1].astype(np.float32)
    return df


__all__ = ["rows_in_box", "rows_in_polygon", "nearest_row", "selection_frame"]
