"""Explore verbs in a real browser on the sample: neighbours of a text, of a clicked point, and a
box selection exported. ``ANCHORAL_DOCS_IMG=1`` also saves the screenshots of docs/app.md."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from playwright.sync_api import expect

from .conftest import overlay_sizes, wait_until
from .test_app import open_app

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"

#: data (x, y) -> page pixels of the map's plot frame, through Bokeh's own scales
_TO_PAGE_JS = """([x, y]) => {
  const doc = Bokeh.documents[0];
  const fig = doc.get_model_by_name("anchoral-map");
  const pv = Bokeh.index.find_one(fig);
  const sx = pv.frame.x_scale.compute(x), sy = pv.frame.y_scale.compute(y);
  const r = pv.canvas_view.el.getBoundingClientRect();
  return [r.left + sx, r.top + sy];
}"""
_RANGES_JS = """() => {
  const fig = Bokeh.documents[0].get_model_by_name("anchoral-map");
  return [fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.y_range.end];
}"""


def shot(page, name):
    if os.environ.get("ANCHORAL_DOCS_IMG") == "1":
        page.screenshot(path=str(DOCS_IMG / name), full_page=False)


def explore_card(page):
    card = page.locator(".anchoral-explore")
    expect(card.get_by_role("button", name="Search")).to_be_visible()
    return card


def test_typed_text_lists_its_neighbours_and_highlights_k_points(page, app_url):
    open_app(page, app_url)
    card = explore_card(page)
    box = card.get_by_role("textbox").first
    box.fill("Congratulations, you have won a free prize: click here to claim it")
    box.press("Enter")
    expect(card.get_by_text(re.compile(r"^10 nearest rows to “Congratulations"))).to_be_visible()
    expect(card.locator("ol.anchoral-neighbours li")).to_have_count(10)
    sizes = wait_until(lambda: (s := overlay_sizes(page)).get("Neighbours") and s,
                       message="the neighbours layer")
    assert sizes["Neighbours"] == 10 and sizes.get("Query row", 0) == 0, sizes
    assert sizes["Selection"] == 0
    shot(page, "explore-neighbours.png")
    assert page.js_errors == []


def test_click_on_a_point_lists_its_neighbours(page, app_url):
    open_app(page, app_url)
    card = explore_card(page)
    coords = np.load(Path(__file__).resolve().parents[2] / "sample_data" / "coords.npy")
    x0, x1, y0, y1 = page.evaluate(_RANGES_JS)
    # a row well inside the view, far (in data units) from every other row
    dx, dy = 0.2 * (x1 - x0), 0.2 * (y1 - y0)
    inside = np.flatnonzero((coords[:, 0] > x0 + dx) & (coords[:, 0] < x1 - dx)
                            & (coords[:, 1] > y0 + dy) & (coords[:, 1] < y1 - dy))
    d = np.sqrt(((coords[inside, None, :] - coords[None, :, :]) ** 2).sum(-1))
    d[np.arange(len(inside)), inside] = np.inf
    row = int(inside[np.argmax(d.min(axis=1))])
    px, py = page.evaluate(_TO_PAGE_JS, [float(coords[row, 0]), float(coords[row, 1])])
    page.mouse.click(px, py)
    expect(card.get_by_text(re.compile(rf"^10 nearest rows to row {row} "))).to_be_visible()
    expect(card.locator("ol.anchoral-neighbours li")).to_have_count(10)
    sizes = wait_until(lambda: (s := overlay_sizes(page)).get("Query row") and s,
                       message="the query row layer")
    assert sizes["Query row"] == 1 and sizes["Neighbours"] == 10, sizes
    assert page.js_errors == []


def test_box_select_shows_the_count_and_exports_the_rows(page, app_url):
    open_app(page, app_url)
    card = explore_card(page)
    coords = np.load(Path(__file__).resolve().parents[2] / "sample_data" / "coords.npy")
    lo = np.percentile(coords, 30, axis=0)
    hi = np.percentile(coords, 70, axis=0)
    box_select(page, lo, hi)
    count = card.locator(".anchoral-selection-count")
    expect(count).to_contain_text(re.compile(r"[\d,]+ rows selected \(box\)"))
    text = count.get_by_text(re.compile("rows selected")).first.inner_text()  # in the shadow DOM
    n = int(re.search(r"([\d,]+) rows selected", text).group(1).replace(",", ""))
    # what the page drew as a box, in pixels, is about the box asked for in data units
    want = ((coords[:, 0] >= lo[0]) & (coords[:, 0] <= hi[0]) & (coords[:, 1] >= lo[1])
            & (coords[:, 1] <= hi[1])).sum()
    assert abs(n - want) <= max(10, 0.05 * want), (n, want)
    sizes = wait_until(lambda: (s := overlay_sizes(page)).get("Selection") and s,
                       message="the selection layer")
    assert sizes["Selection"] == n, sizes
    shot(page, "explore-selection.png")
    with page.expect_download() as info:
        card.get_by_role("button", name="Export CSV").click()
    df = pd.read_csv(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert df.columns.tolist() == ["id", "text", "label", "x", "y"] and len(df) == n
    assert page.js_errors == []


def box_select(page, lo, hi):
    page.get_by_title("Box select rows").click()
    a = page.evaluate(_TO_PAGE_JS, [float(lo[0]), float(hi[1])])
    b = page.evaluate(_TO_PAGE_JS, [float(hi[0]), float(lo[1])])
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, steps=4)
    page.mouse.move(*b, steps=4)
    page.mouse.up()


def test_box_selection_labelled_with_one_class_in_annotate_mode(page, app_url):
    page.goto(f"{app_url}/annotate")
    expect(page.get_by_text(re.compile(r"Label round 1"))).to_be_visible()  # first batch ready
    card = explore_card(page)
    coords = np.load(Path(__file__).resolve().parents[2] / "sample_data" / "coords.npy")
    box_select(page, np.percentile(coords, 45, axis=0), np.percentile(coords, 55, axis=0))
    count = card.locator(".anchoral-selection-count")
    expect(count).to_contain_text(re.compile(r"rows selected \(box\)"))
    text = count.get_by_text(re.compile("rows selected")).first.inner_text()
    n = int(re.search(r"([\d,]+) rows selected", text).group(1).replace(",", ""))
    card.get_by_role("button", name="Label selection").click()
    # every selected row not yet labelled becomes round 1, labelled with the first class
    expect(page.get_by_text(re.compile(r"Round 1: \d+ selected rows labelled ham"))).to_be_visible()
    done = page.get_by_text(re.compile(r"Round 1: \d+ selected rows labelled ham")).first
    m = int(re.search(r"Round 1: (\d+) selected", done.inner_text()).group(1))
    assert 0 < m <= n
    expect(page.get_by_text(re.compile(r"Label round 2"))).to_be_visible()  # the next batch
    assert page.js_errors == []


def _count(card) -> int:
    count = card.locator(".anchoral-selection-count")
    expect(count).to_contain_text(re.compile(r"rows selected"))
    text = count.get_by_text(re.compile("rows selected")).first.inner_text()  # shadow DOM
    return int(re.search(r"([\d,]+) rows selected", text).group(1).replace(",", ""))


_LAYER_XY_JS = """(name) => {
  const fig = Bokeh.documents[0].get_model_by_name("anchoral-map");
  const r = fig.renderers.find((r) => r.name === name);
  if (!r) return null;
  const d = r.data_source.data;
  return [Array.from(d.x), Array.from(d.y)];
}"""


def test_lasso_select_counts_the_rows_inside_the_polygon(page, app_url):
    from explorer.selection import rows_in_polygon

    open_app(page, app_url)
    card = explore_card(page)
    coords = np.load(Path(__file__).resolve().parents[2] / "sample_data" / "coords.npy")
    lo, hi = np.percentile(coords, 25, axis=0), np.percentile(coords, 75, axis=0)
    mid = (lo + hi) / 2
    # a triangle: top-left, top-right, bottom-middle (data units)
    poly = [(lo[0], hi[1]), (hi[0], hi[1]), (mid[0], lo[1])]
    page.get_by_title("Lasso select rows").click()
    pts = [page.evaluate(_TO_PAGE_JS, [float(x), float(y)]) for x, y in poly]
    page.mouse.move(*pts[0])
    page.mouse.down()
    for a, b in zip(pts, pts[1:] + pts[:1]):
        for t in np.linspace(0, 1, 8)[1:]:
            page.mouse.move(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))
    page.mouse.up()
    expect(card.locator(".anchoral-selection-count")).to_contain_text(
        re.compile(r"[\d,]+ rows selected \(lasso\)"))
    n = _count(card)
    want = len(rows_in_polygon(coords, [p[0] for p in poly], [p[1] for p in poly]))
    box = ((coords >= lo) & (coords <= hi)).all(axis=1).sum()
    assert want < box  # a triangle is not its bounding box
    assert abs(n - want) <= max(10, 0.05 * want), (n, want)
    sizes = wait_until(lambda: (s := overlay_sizes(page)).get("Selection") and s,
                       message="the selection layer")
    assert sizes["Selection"] == n, sizes
    assert page.js_errors == []


def test_fork_with_selection_labels_the_selected_rows_in_a_new_run(page, app_url):
    from .test_app import step

    open_app(page, app_url)
    step(page, 1)
    card = explore_card(page)
    coords = np.load(Path(__file__).resolve().parents[2] / "sample_data" / "coords.npy")
    lo, hi = np.percentile(coords, 40, axis=0), np.percentile(coords, 60, axis=0)
    box_select(page, lo, hi)
    expect(card.locator(".anchoral-selection-count")).to_contain_text(
        re.compile(r"rows selected \(box\)"))
    n = _count(card)
    assert n > 0
    card.get_by_role("button", name="Fork with selection").click()
    expect(page.get_by_text(re.compile(r"Forked: .*⑂.*@1 \(round 2\)"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"round 2 of 2$"))).to_be_visible()
    # the fork's round 2 queried exactly rows of the selection (those not labelled before)
    xy = wait_until(lambda: (v := page.evaluate(_LAYER_XY_JS, "Queried")) and len(v[0]) and v,
                    message="the fork's queried rows")
    qx, qy = np.asarray(xy[0]), np.asarray(xy[1])
    assert 0 < len(qx) <= n
    pad = 0.02 * (coords.max(axis=0) - coords.min(axis=0))
    assert ((qx >= lo[0] - pad[0]) & (qx <= hi[0] + pad[0])
            & (qy >= lo[1] - pad[1]) & (qy <= hi[1] + pad[1])).all()
    assert page.js_errors == []


def test_selection_opened_in_the_labelling_queue_in_annotate_mode(page, app_url):
    page.goto(f"{app_url}/annotate")
    expect(page.get_by_text(re.compile(r"Label round 1"))).to_be_visible()
    card = explore_card(page)
    coords = np.load(Path(__file__).resolve().parents[2] / "sample_data" / "coords.npy")
    box_select(page, np.percentile(coords, 48, axis=0), np.percentile(coords, 52, axis=0))
    expect(card.locator(".anchoral-selection-count")).to_contain_text(
        re.compile(r"rows selected \(box\)"))
    n = _count(card)
    assert 0 < n <= 200  # the queue takes at most 200 rows
    card.get_by_role("button", name="Open in labelling queue").click()
    msg = page.get_by_text(re.compile(r"Label the \d+ selected rows \(round 1 of ")).first
    expect(msg).to_be_visible()
    m = int(re.search(r"Label the (\d+) selected", msg.inner_text()).group(1))
    assert 0 < m <= n
    assert page.js_errors == []
