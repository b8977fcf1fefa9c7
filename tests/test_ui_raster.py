"""The map's pool raster: hand-computed shading, minority on top, one image per view."""

import numpy as np

from explorer.ui.raster import PoolRaster, eq_hist_levels, hex_to_rgb, shade_counts


def rgba(u32):
    """uint32 RGBA (red in the lowest byte) → (r, g, b, a)."""
    return tuple(int(v) for v in np.array([u32], np.uint32).view(np.uint8))


def test_eq_hist_levels_by_hand():
    total = np.array([[0, 1], [1, 3]])
    # occupied counts: 1, 1, 3 → cdf(1) = 2, cdf(3) = 3; the lowest count maps to 0, the top to 1
    np.testing.assert_allclose(eq_hist_levels(total), [[0, 0], [0, 1]])
    total = np.array([[2, 4, 8, 0]])  # three occupied pixels: levels 0, 1/2, 1
    np.testing.assert_allclose(eq_hist_levels(total), [[0, 0.5, 1, 0]])
    assert not eq_hist_levels(np.zeros((2, 2), int)).any()
    np.testing.assert_allclose(eq_hist_levels(np.array([[5, 5]])), [[1, 1]])  # one level: full


def test_shade_counts_mixes_colours_by_count():
    colors = np.array([hex_to_rgb("#ff0000"), hex_to_rgb("#0000ff")], np.float32)
    counts = np.array([[[1, 0], [1, 1], [0, 0]]])  # (h=1, w=3, C=2)
    img = shade_counts(counts, colors, min_alpha=100)
    assert img.shape == (1, 3) and img.dtype == np.uint32
    assert rgba(img[0, 0]) == (255, 0, 0, 100)  # one red point: red, the lowest opacity
    assert rgba(img[0, 1]) == (128, 0, 128, 255)  # one red + one blue: purple, the highest
    assert rgba(img[0, 2]) == (0, 0, 0, 0)  # empty: transparent


def test_minority_drawn_on_top_and_values_over_classes():
    xy = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [2.5, 2.5], [3.5, 0.5]], np.float32)
    codes = np.array([0, 0, 1, 0, 1])  # pixel (0, 0): two majority + one minority point
    colors = {"common": "#1f77b4", "rare": "#d62728"}
    r = PoolRaster(xy, codes, ["common", "rare"], colors, ["rare"], spread=(0, 0),
                   min_alpha=(180, 230))
    img = r.image((0, 4), (0, 4), 4, 4)
    px = img.data  # rows are y (upwards), columns x
    assert rgba(px[0, 0])[:3] == hex_to_rgb("#d62728")  # minority on top of the majority
    assert rgba(px[2, 2])[:3] == hex_to_rgb("#1f77b4")
    assert rgba(px[0, 3])[:3] == hex_to_rgb("#d62728")
    assert rgba(px[3, 3]) == (0, 0, 0, 0)
    # coloured by value: the value colour (alpha 230) composited "over" the class colour
    values = np.array([1.0, 1.0, 1.0, 0.0, 1.0], np.float32)
    img = r.image((0, 4), (0, 4), 4, 4, values=values)

    def over(src, src_a, dst, dst_a):
        a = src_a + dst_a * (1 - src_a)
        return [(s * src_a + d * dst_a * (1 - src_a)) / a for s, d in zip(src, dst)], a * 255

    # (2, 2): value 0 (#313695) over one majority point (#1f77b4 at the lowest opacity, 180)
    want, a = over(hex_to_rgb("#313695"), 230 / 255, hex_to_rgb("#1f77b4"), 180 / 255)
    got = rgba(img.data[2, 2])
    assert abs(got[3] - a) <= 1 and all(abs(g - w) <= 2 for g, w in zip(got[:3], want))
    # (0, 3): value 1 (#a50026) over a minority point (#d62728; every minority pixel holds one
    # point, a single level, so fully opaque)
    want, a = over(hex_to_rgb("#a50026"), 230 / 255, hex_to_rgb("#d62728"), 1.0)
    got = rgba(img.data[0, 3])
    assert abs(got[3] - a) <= 1 and all(abs(g - w) <= 2 for g, w in zip(got[:3], want))


def test_one_aggregation_covers_every_class_and_spreads_isolated_points():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 10, size=(2000, 2)).astype(np.float32)
    codes = (np.arange(2000) % 40 == 0).astype(int)
    r = PoolRaster(xy, codes, ["common", "rare"], {"common": "#1f77b4", "rare": "#d62728"},
                   ["rare"])
    cvs = r.canvas((0, 10), (0, 10), 50, 40)
    counts, coords = r.counts(cvs)
    assert counts.shape == (40, 50, 2) and counts.sum() == 2000
    assert counts[:, :, 1].sum() == 50 and len(coords["x"]) == 50
    lone = PoolRaster(np.array([[5.0, 5.0]], np.float32), [1], ["common", "rare"],
                      {"common": "#1f77b4", "rare": "#d62728"}, ["rare"])
    drawn = (lone.image((0, 10), (0, 10), 50, 50).data >> 24) > 0
    assert drawn.sum() > 1  # a single point is spread to a few pixels so it stays visible


def test_max_pixels_shrinks_the_raster_keeping_the_aspect():
    xy = np.array([[1.0, 1.0], [9.0, 4.0]], np.float32)
    r = PoolRaster(xy, [0, 1], ["common", "rare"], {"common": "#1f77b4", "rare": "#d62728"},
                   ["rare"], max_pixels=2_500)
    img = r.image((0, 10), (0, 5), 200, 100)  # 20,000 px asked, 2,500 allowed: 70 x 35
    assert img.shape == (35, 70)
    assert PoolRaster(xy, [0, 1], ["common", "rare"], {"common": "#1f77b4", "rare": "#d62728"},
                      ["rare"]).image((0, 10), (0, 5), 200, 100).shape == (100, 200)
