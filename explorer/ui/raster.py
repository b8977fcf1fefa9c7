"""The pool's background raster: one datashader aggregation per view, minority on top, one image.

For every pan or zoom the map needs the whole pool redrawn. :class:`PoolRaster` aggregates the
points once per view (``count_cat`` of the class column, one (h, w, classes) count array) and
shades two images from that one aggregate, majority classes and minority classes (a pixel that
holds both shows the minority colour on top, spread one pixel further), plus the pool values
(P(minority) or entropy) over them when the map is coloured by value. It composites all of them
into a single RGBA image, so one small image goes to the browser per view instead of one per
layer (docs/benchmarks.md, section 5).

Colours follow datashader's categorical shading: each pixel mixes its classes' colours by count,
and its opacity grows with the count by histogram equalisation (``how="eq_hist"``), computed here
with ``np.bincount`` on the integer counts instead of a sort.
"""

from __future__ import annotations

import datashader as ds
import datashader.transfer_functions as tf
import numpy as np
import pandas as pd
import xarray as xr

#: default canvas when the browser has not reported the plot size yet
DEFAULT_SIZE = (800, 500)


def hex_to_rgb(color: str) -> tuple:
    """``"#1f77b4"`` → ``(31, 119, 180)``."""
    c = color.lstrip("#")
    return tuple(int(c[i:i + 2], 16) for i in (0, 2, 4))


def eq_hist_levels(total: np.ndarray) -> np.ndarray:
    """Histogram-equalised level in [0, 1] of each non-negative integer count (0 for 0).

    The lowest non-zero count gets 0, the highest 1; levels follow the share of occupied pixels
    with a smaller or equal count (datashader's ``eq_hist`` on discrete values).
    """
    flat = total.ravel()
    hist = np.bincount(flat)
    hist[0] = 0
    occupied = hist.sum()
    out = np.zeros(total.shape, np.float32)
    if occupied == 0:
        return out
    cdf = np.cumsum(hist, dtype=np.float64)
    lowest = cdf[np.flatnonzero(hist)[0]]
    span = occupied - lowest
    level = (cdf - lowest) / span if span > 0 else np.ones_like(cdf)
    level[0] = 0
    return level[flat].astype(np.float32).reshape(total.shape)


def shade_counts(counts: np.ndarray, colors: np.ndarray, min_alpha: int,
                 alpha: int = 255) -> np.ndarray:
    """Categorical shading of (h, w, C) counts with (C, 3) colours → (h, w) uint32 RGBA.

    Colour = count-weighted mean of the class colours; opacity from ``min_alpha`` (lowest count)
    to ``alpha`` (highest) by :func:`eq_hist_levels`; empty pixels are transparent.
    """
    h, w, n_cat = counts.shape
    flat = counts.reshape(-1, n_cat)
    total = flat.sum(axis=1, dtype=np.int64) if n_cat > 1 else flat[:, 0].astype(np.int64)
    out = np.zeros(h * w, np.uint32)
    idx = np.flatnonzero(total)
    if not idx.size:
        return out.reshape(h, w)
    if n_cat == 1:
        rgb = np.broadcast_to(colors[0].astype(np.float32), (idx.size, 3))
    else:
        rgb = flat[idx].astype(np.float32) @ colors.astype(np.float32)
        rgb /= total[idx, None].astype(np.float32)
    rgb = np.clip(rgb + 0.5, 0, 255).astype(np.uint32)
    level = eq_hist_levels(total)[idx]
    a = (min_alpha + (alpha - min_alpha) * level + 0.5).astype(np.uint32)
    # datashader's RGBA layout: red in the lowest byte
    out[idx] = rgb[:, 0] | (rgb[:, 1] << 8) | (rgb[:, 2] << 16) | (a << 24)
    return out.reshape(h, w)


class PoolRaster:
    """Rasterises a pool of 2-D points coloured by class, minority classes on top.

    Parameters
    ----------
    xy : float array of shape (n, 2)
    codes : int array of shape (n,)
        Category of each row, an index into ``names``.
    names : sequence of str
        Category names.
    colors : dict of str to str
        Hex colour of each name.
    minority : sequence of str
        Names drawn on top of the others.
    spread : (int, int)
        Largest spread in pixels of isolated points, (others, minority) (datashader
        ``dynspread`` with ``threshold``).
    min_alpha : (int, int)
        Opacity of the sparsest occupied pixel, (others, minority): the pool reads clearly
        behind the overlays.
    max_pixels : int, optional
        Largest raster (width x height); a larger plot gets a proportionally smaller raster
        that the browser stretches (each raster pixel covers several screen pixels). Shading,
        spreading and the image sent all scale with the pixel count. None: one raster pixel
        per screen pixel.
    """

    def __init__(self, xy, codes, names, colors, minority, *, spread=(2, 3),
                 min_alpha=(180, 230), threshold=0.8, value_cmap=None, max_pixels=None):
        xy = np.asarray(xy, dtype=np.float32)
        self.names = list(names)
        codes = np.asarray(codes)
        self.frame = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
        # one frame per class, split once: a plain count per class is ~5x faster than
        # datashader's count_cat over a categorical column (by-reduction) at 1M rows
        self.parts = [self.frame[codes == c].reset_index(drop=True)
                      for c in range(len(self.names))]
        self.colors = np.array([hex_to_rgb(colors[n]) for n in self.names], np.float32)
        self.is_minority = np.isin(self.names, list(minority))
        self.spread = spread
        self.min_alpha = min_alpha
        self.threshold = threshold
        self.value_cmap = value_cmap or ["#313695", "#ffffbf", "#a50026"]
        self.max_pixels = max_pixels
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        pad = np.maximum((hi - lo) * 0.02, 1e-3)
        self.x_range = (float(lo[0] - pad[0]), float(hi[0] + pad[0]))
        self.y_range = (float(lo[1] - pad[1]), float(hi[1] + pad[1]))

    def canvas(self, x_range=None, y_range=None, width=None, height=None) -> ds.Canvas:
        width, height = int(width or DEFAULT_SIZE[0]), int(height or DEFAULT_SIZE[1])
        if self.max_pixels and width * height > self.max_pixels:
            shrink = (self.max_pixels / (width * height)) ** 0.5
            width, height = int(width * shrink), int(height * shrink)
        return ds.Canvas(plot_width=max(width, 1), plot_height=max(height, 1),
                         x_range=tuple(x_range or self.x_range),
                         y_range=tuple(y_range or self.y_range))

    def counts(self, cvs):
        """Per-class point counts (h, w, C) int64 in the canvas, and the pixel coordinates."""
        h, w = cvs.plot_height, cvs.plot_width
        counts = np.zeros((h, w, len(self.names)), np.int64)
        coords = None
        for c, part in enumerate(self.parts):
            if len(part):
                agg = cvs.points(part, "x", "y", ds.count())
                counts[:, :, c] = agg.data
                coords = coords or {"x": agg.coords["x"].values, "y": agg.coords["y"].values}
        if coords is None:
            agg = cvs.points(self.frame.iloc[:0], "x", "y", ds.count())
            coords = {"x": agg.coords["x"].values, "y": agg.coords["y"].values}
        return counts, coords

    def image(self, x_range=None, y_range=None, width=None, height=None, values=None):
        """One RGBA image (a datashader ``Image``) of the pool in this view.

        ``values`` (float array of shape (n,), in [0, 1]) are averaged per pixel and drawn over
        the classes (90 % opaque, ``value_cmap``) when given.
        """
        cvs = self.canvas(x_range, y_range, width, height)
        counts, coords = self.counts(cvs)
        layers = []
        for part, spread, min_alpha in ((~self.is_minority, self.spread[0], self.min_alpha[0]),
                                        (self.is_minority, self.spread[1], self.min_alpha[1])):
            if not part.any():
                continue
            rgba = shade_counts(counts[:, :, part], self.colors[part], min_alpha)
            img = tf.Image(xr.DataArray(rgba, coords=coords, dims=["y", "x"]))
            layers.append(tf.dynspread(img, threshold=self.threshold, max_px=spread))
        if values is not None:
            frame = pd.DataFrame({"x": self.frame["x"], "y": self.frame["y"],
                                  "value": np.asarray(values, np.float32)})
            mean = cvs.points(frame, "x", "y", ds.mean("value"))
            img = tf.shade(mean, cmap=self.value_cmap, how="linear", span=(0, 1),
                           min_alpha=230, alpha=230)
            layers.append(tf.dynspread(img, threshold=0.6, max_px=2))
        return tf.stack(*layers) if len(layers) > 1 else layers[0]
