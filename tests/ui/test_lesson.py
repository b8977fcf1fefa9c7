"""The cost lesson in a real browser: texts scored and enrichment plots, the one-sentence summary,
the projection table, two runs on one map (with counts and a download), legend entries."""

from __future__ import annotations

import re

import pandas as pd
from playwright.sync_api import expect

from .conftest import curve_lines, curve_points, drawn_pixels, figures, wait_until

_LEGEND_JS = """(name) => {
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    const models = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
    for (const m of models) {
      if ((m.type !== "Figure" && m.type !== "Plot") || m.name !== name) continue;
      const out = {};
      for (const legend of m.center.filter(c => c.type === "Legend"))
        for (const item of legend.items) {
          const label = item.label && (item.label.value !== undefined ? item.label.value : item.label);
          out[label] = item.visible;
        }
      return out;
    }
  }
  return null;
}"""


def legend(page, figure="anchoral-map") -> dict:
    """{legend label: visible} of a Bokeh figure's legend."""
    return page.evaluate(_LEGEND_JS, figure) or {}


def open_app(page, url):
    page.goto(f"{url}/sample", timeout=600_000)  # every view renders: minutes on a loaded box
    expect(page.get_by_role("button", name="Step")).to_be_enabled(timeout=300_000)
    wait_until(lambda: drawn_pixels(page) > 2000, timeout=300, message="the map raster to draw")


def run_rounds(page, n):
    page.get_by_label("Rounds (Run N)").fill(str(n))
    page.get_by_label("Rounds (Run N)").press("Enter")
    page.get_by_role("button", name="Run N rounds").click()
    expect(page.get_by_text(re.compile(rf"Done: {n} rounds in"))).to_be_visible(timeout=180_000)


def test_cost_lesson_views_after_a_few_rounds(page, app_url):
    open_app(page, app_url)
    # nothing selected yet: the legend lists no overlay that draws nothing
    wait_until(lambda: legend(page), timeout=180, message="the map legend")
    shown = legend(page)
    assert shown.get("Anchors") is False and shown.get("Queried") is False, shown
    expect(page.get_by_text("After the first round, one sentence here")).to_be_visible()

    run_rounds(page, 3)
    wait_until(lambda: curve_points(page, "texts-scored") == [3, 3], timeout=180,
               message="texts scored")
    scored = curve_lines(page, "texts-scored")
    assert len(scored) == 2 and len({r["color"] for r in scored}) == 2
    assert curve_points(page, "enrichment") == [3, 3]
    # AnchorAL's subpool line (the full pool has none), plus each run's pool and batch lines
    assert len(curve_lines(page, "enrichment")) == 5
    shown = wait_until(lambda: (s := legend(page)).get("Anchors") and s, timeout=180,
                       message="legend")
    assert shown["Queried"] and shown["Subpool"] and not shown.get("Preview subpool"), shown

    summary = page.locator(".anchoral-summary")
    expect(summary).to_contain_text(re.compile(r"AnchorAL scored \d+(\.\d)? % of the pool"))
    projection = page.locator(".anchoral-projection")
    expect(projection).to_contain_text("10,000,000")
    expect(projection).to_contain_text("4,278 (this pool)")
    expect(page.get_by_text(re.compile(r"A projection, not a measurement: the fine-tuned "
                                       r"encoder costs 24\.1 ms of CPU per text"))).to_be_visible()

    # two runs on one map: AnchorAL (A) vs the full pool (B) up to round 3
    page.get_by_text("Two runs on one map", exact=True).click()  # a Bokeh tab: no ARIA role
    caption = page.locator(".anchoral-two-runs-caption")
    expect(caption).to_contain_text("A = AnchorAL · entropy, B = Full pool · entropy, rounds 1–3")
    text = caption.inner_text()
    both, only_a, only_b = (int(x) for x in re.findall(
        r"both (\d+), only A (\d+), only B (\d+)", text)[0])
    assert both + only_a == 75 and both + only_b == 75, text
    sizes = wait_until(lambda: {r["name"]: r["n"] for r in
                                figures(page).get("anchoral-two-runs", []) if r["name"]}
                       .get("Queried by both") is not None and
                       {r["name"]: r["n"] for r in figures(page)["anchoral-two-runs"]
                        if r["name"]}, timeout=180, message="two-run overlays")
    assert (sizes["Queried by both"], sizes["Only by A"], sizes["Only by B"]) == \
        (both, only_a, only_b), sizes
    counts = page.locator(".anchoral-two-runs-counts")
    expect(counts).to_contain_text("spam")
    expect(counts).to_contain_text("total")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the comparison (CSV)").click()
    rows = pd.read_csv(download.value.path())
    assert rows.columns.tolist() == ["id", "group", "run_a", "run_b", "label", "round_a",
                                     "round_b", "text"]
    assert rows["group"].value_counts().to_dict() == {
        k: v for k, v in (("both", both), ("only A", only_a), ("only B", only_b)) if v}
    assert page.js_errors == []
