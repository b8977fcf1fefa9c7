"""The explorer in a real browser: map drawn, Step/Run N/slider, hostile text, invalid settings."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import curve_lines, curve_points, drawn_pixels, overlay_sizes, wait_until

CURVES = ("minority-share", "enrichment", "minority-f1", "selection-time", "texts-scored",
          "cumulative-time")


def open_app(page, url, path="sample"):
    page.goto(f"{url}/{path}")
    expect(page.get_by_role("button", name="Step")).to_be_enabled()
    wait_until(lambda: drawn_pixels(page) > 2000, message="the map raster to draw")


def step(page, rounds_done):
    page.get_by_role("button", name="Step").click()
    expect(page.get_by_text(re.compile(r"Done: 1 round in"))).to_be_visible()
    expect(page.get_by_text(re.compile(rf"round {rounds_done} of {rounds_done}$"))).to_be_visible()


def test_page_loads_and_map_has_pixels(page, app_url):
    open_app(page, app_url)
    assert drawn_pixels(page) > 2000
    assert page.js_errors == []
    # BokehJS skips its CSS custom-property reads (explorer/ui/panel_patch.py, NO_CSS_VARS_JS)
    assert page.evaluate("Bokeh.require('core/visuals/visual').VisualProperties.prototype"
                         "._get_css_value('line-color')") == ""
    # and reads each plot's font size once (a number, kept on the view)
    assert page.evaluate("""() => {
      const P = Bokeh.require('models/plots/plot_canvas').PlotView;
      const views = [...Bokeh.index.query(v => v instanceof P)];
      return views.length > 0 && views.every(v =>
        v.base_font_size === parseFloat(getComputedStyle(v.el).fontSize) &&
        v._anchoral_font_size === v.base_font_size);
    }""")


def test_step_adds_overlays_and_a_point_to_every_plot(page, app_url):
    open_app(page, app_url)
    before = overlay_sizes(page)
    assert before.get("Anchors", 0) == 0 and before.get("Queried", 0) == 0
    assert all(sum(curve_points(page, name)) == 0 for name in CURVES)

    step(page, 1)
    sizes = wait_until(lambda: (s := overlay_sizes(page)).get("Queried") and s, message="overlays")
    assert sizes["Anchors"] > 0, sizes
    assert sizes["Subpool"] > 0, sizes
    assert sizes["Queried"] == 25, sizes
    assert sizes["Labelled (fill: class)"] >= 100, sizes
    for name in CURVES:
        pts = wait_until(lambda: curve_points(page, name) or None, message=name)
        assert max(pts) == 1, (name, pts)  # a point per run
    # a second Step: the page sends the click and no range (the plots' ranges come from the
    # server; BokehJS's auto-ranging sent each back, to be answered, and painted again). A plot
    # whose box changes reports its new size (a scrollbar appearing with the page's height can
    # do that, seen once in a CI run): sizes are allowed here, nothing else.
    page.evaluate(_RECORD_SENT_JS)
    step(page, 2)
    wait_until(lambda: max(curve_points(page, "cumulative-time")) == 2, message="round 2")
    sent = page.evaluate("window.__anchoral_sent")
    assert sent and sent[0] == ["MessageSent"], sent  # the click
    sizes = ("inner_width", "inner_height", "outer_width", "outer_height")
    others = [e for kinds in sent[1:] for e in kinds if e.split(" ")[0].split(":")[-1] not in sizes]
    assert others == [], sent
    assert page.js_errors == []


#: record the kinds of the events of every message the page sends to the server from now on
_RECORD_SENT_JS = """() => {
  const C = Bokeh.require("client/connection").ClientConnection.prototype;
  window.__anchoral_sent = [];
  if (C.__anchoral_send) return;
  C.__anchoral_send = C.send;
  C.send = function (msg) {
    const events = (msg.content && msg.content.events) || [];
    const doc = Bokeh.documents[0];
    const name = (e) => { const m = e.model && doc.get_model_by_id(e.model.id);
                          return m ? " " + m.type + (m.name ? "/" + m.name : "") : ""; };
    window.__anchoral_sent.push(events.map(e => e.kind + (e.attr ? ":" + e.attr : "") + name(e)));
    return C.__anchoral_send.apply(this, arguments);
  };
}"""


def test_anchoral_vs_full_pool_gives_one_curve_per_run(page, app_url):
    open_app(page, app_url)
    page.get_by_label("Rounds (Run N)").fill("3")
    page.get_by_label("Rounds (Run N)").press("Enter")
    page.get_by_role("button", name="Run N rounds").click()
    expect(page.get_by_text(re.compile(r"Done: 3 rounds in"))).to_be_visible(timeout=120_000)
    wait_until(lambda: curve_points(page, "minority-share") == [3, 3],
               message="two runs x 3 points")
    lines = curve_lines(page, "minority-share")
    assert len(lines) == 2 and {line["n"] for line in lines} == {3}
    assert len({r["color"] for r in lines}) == 2  # one colour per run, shared with the legend
    assert curve_points(page, "selection-time") == [3, 3]
    assert curve_points(page, "texts-scored") == [3, 3]
    assert curve_points(page, "enrichment") == [3, 3]
    # every run's points are one renderer: hovering one names its run
    point = page.evaluate(_POINT_JS, "minority-share")
    page.mouse.move(point["x"], point["y"])
    tip = page.locator(".bk-tooltip-content").first
    expect(tip).to_be_visible()
    assert point["run"] in tip.inner_text(), (point, tip.inner_text())


#: the screen position and run of the first point of a comparison figure's points renderer
_POINT_JS = """(figure) => {
  for (const doc of Bokeh.documents) {
    const ms = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
    const fig = ms.find(m => m.name === figure);
    if (!fig) continue;
    const view = Bokeh.index.find_one(fig);
    const r = fig.renderers.find(r => r.name === "points");
    const d = r.data_source.data, g = r.glyph;
    const rect = view.canvas_view.el.getBoundingClientRect();
    return {x: rect.left + view.frame.x_scale.compute(d[g.x.field][0]),
            y: rect.top + view.frame.y_scale.compute(d[g.y.field][0]), run: d.run[0]};
  }
  return null;
}"""


def test_round_slider_replays_an_earlier_round(page, app_url):
    open_app(page, app_url)
    step(page, 1)
    first = page.locator(".tabulator-cell[tabulator-field='id']").all_inner_texts()
    step(page, 2)
    expect(page.get_by_text(re.compile(r"round 2 of 2$"))).to_be_visible()
    expect(page.locator(".tabulator-cell[tabulator-field='id']").first).not_to_have_text(first[0])
    slider = page.get_by_role("slider")
    slider.focus()
    slider.press("ArrowLeft")
    expect(page.get_by_text(re.compile(r"round 1 of 2$"))).to_be_visible()
    wait_until(lambda: page.locator(".tabulator-cell[tabulator-field='id']")
               .all_inner_texts() == first, message="round 1's queries in the table")
    assert overlay_sizes(page)["Queried"] == 25


def test_hostile_text_shows_as_text_and_runs_nothing(page, app_url):
    page.add_init_script("window.__xss = null;")
    open_app(page, app_url, "hostile")
    step(page, 1)
    cells = page.locator(".tabulator-cell[tabulator-field='text']")
    expect(cells.first).to_be_visible()
    texts = " ".join(cells.all_inner_texts())
    assert "<img src=x onerror" in texts or "<script>" in texts or "<svg onload" in texts, texts
    labels = " ".join(page.locator(".tabulator-cell[tabulator-field='label']").all_inner_texts())
    assert "<b>ham</b>" in labels or "<img src=x" in labels, labels
    expect(page.get_by_text("<b>ham</b>").first).to_be_visible()  # the class legend, as text
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("svg[onload]").count() == 0
    assert page.js_errors == []


def test_invalid_setting_shows_error_and_app_stays_usable(page, app_url):
    open_app(page, app_url)
    k = page.get_by_label("k neighbours")
    k.fill("0")
    k.press("Enter")
    page.get_by_role("button", name="Step").click()
    alert = page.locator(".alert-danger").filter(has_text="n_neighbors=0 must be >= 1")
    expect(alert).to_be_visible()
    expect(page.get_by_role("button", name="Step")).to_be_enabled()
    k.fill("50")
    k.press("Enter")
    step(page, 1)
    expect(alert).to_be_hidden()
    assert overlay_sizes(page)["Queried"] == 25


def test_running_rounds_disable_the_buttons_and_cancel_stops_them(page, app_url):
    """The busy state: while rounds run, Step, Run N, Open/Save session and Preview/Fork take
    no click and Pause/Cancel does; cancelling ends the job and turns both back."""
    open_app(page, app_url)
    step_button = page.get_by_role("button", name="Step")
    run_button = page.get_by_role("button", name="Run N rounds")
    cancel = page.get_by_role("button", name="Pause/Cancel")
    others = [page.get_by_role("button", name=n) for n in ("Open session", "Save as session")]
    expect(cancel).to_be_disabled()  # idle: nothing to cancel
    for b in [step_button, run_button, *others]:
        expect(b).to_be_enabled()
    # 120 rounds of 25 stay inside the sample's training pool (~132 rounds): a run that the
    # checks below outlast on a loaded box ends as "Done", never on "would exhaust the pool"
    page.get_by_label("Rounds (Run N)").fill("120")
    page.get_by_label("Rounds (Run N)").press("Enter")
    run_button.click()
    expect(cancel).to_be_enabled()
    for b in [step_button, run_button, *others]:
        expect(b).to_be_disabled()
    # a disabled button takes no click (the page would say "already in progress")
    assert page.evaluate("""() => { const find = (root) => { for (const el of root.querySelectorAll("*")) {
        if (el.tagName === "BUTTON" && el.textContent.trim() === "Step") return el;
        if (el.shadowRoot) { const f = find(el.shadowRoot); if (f) return f; } } return null; };
        return find(document).disabled; }""")
    cancel.click()  # a run that ended meanwhile says Done (its Pause/Cancel took no click)
    expect(page.get_by_text(re.compile(r"(Cancelled|Done): \d+ rounds? in"))).to_be_visible(
        timeout=120_000)
    expect(cancel).to_be_disabled()
    for b in [step_button, run_button, *others]:
        expect(b).to_be_enabled()
    assert page.js_errors == []
