"""A classroom on one server: several browser contexts at once, isolated; hostile text everywhere.

One in-process server (like ``conftest.app_url``) serves ``/sample`` with a session root and
``/hostile`` with texts made of markup, Bokeh template syntax and hover-field syntax. Each test
opens several browser contexts (separate cookies and storage: separate people) on it.
"""

from __future__ import annotations

import dataclasses
import re
import time
import urllib.request

import pandas as pd
import pytest
from playwright.sync_api import expect

from .conftest import (_free_port, curve_points, drawn_pixels, map_overlays, overlay_sizes,
                       serve_session_cli, shown_curve_points, told_on_failure, wait_until)
from .test_app import step

#: several pages load at once on a shared 2-core machine: wait for them, never sleep
PATIENCE_MS = 600_000


def open_app(page, url, path="sample"):
    """Like ``test_app.open_app``, patient: N pages of one server are built one after another."""
    page.goto(f"{url}/{path}", timeout=PATIENCE_MS)
    expect(page.get_by_role("button", name="Step")).to_be_enabled(timeout=PATIENCE_MS)
    # /hostile's 800 points sit in five tight clusters: ~1,800 coloured pixels when drawn
    wait_until(lambda: drawn_pixels(page) > 500, timeout=PATIENCE_MS / 1000,
               message="the map raster to draw")

CLASS_TEXTS = [
    "<script>window.__xss = 'script'</script> free money now",
    '<img src=x onerror="window.__xss = \'img\'"> meeting at noon',
    "{{ window.__xss = 'template' }} {% raw %} quarterly report",
    "@label @{text} $index $x hover fields",
]


def _hostile_pool():
    from explorer.ui.synthetic import synthetic_prepared

    p = synthetic_prepared(800, dim=16, minority_share=0.1, texts=CLASS_TEXTS)
    classes = ("<b>ham</b>", "{{ spam }}")
    return dataclasses.replace(p, dataset=dataclasses.replace(p.dataset, classes=classes,
                                                              name="class-hostile"))


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    """(base URL, session root) of a server with ``/sample`` and ``/hostile``."""
    import panel as pn

    from explorer.ui.app import ExplorerApp, load_prepared

    from .conftest import sample_source

    pn.extension("tabulator", notifications=False, sizing_mode="stretch_width")
    root = tmp_path_factory.mktemp("class-root")
    source = sample_source()
    shared = {"sample": load_prepared(source), "hostile": _hostile_pool()}

    def sample():
        return ExplorerApp(shared["sample"], dataset=source, datasets=[source],
                           session_root=str(root)).template()

    def hostile():
        return ExplorerApp(shared["hostile"], dataset="class-hostile", datasets=["class-hostile"],
                           init_size=40, query_size=10, n_neighbors=20, filters=["anchoral"],
                           session_root=str(root)).template()

    port = _free_port()
    server = pn.serve({"sample": sample, "hostile": hostile}, port=port, address="127.0.0.1",
                      websocket_origin=f"127.0.0.1:{port}", show=False, threaded=True,
                      start=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 900  # a loaded 2-core machine builds the first page slowly
    while True:
        try:
            urllib.request.urlopen(f"{base}/sample", timeout=300).read(100)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.5)
    yield base, root
    server.stop()


@pytest.fixture
def people(browser):
    """``people(n)`` → n pages, each in its own browser context (its own cookies)."""
    contexts = []

    def make(n):
        pages = []
        for _ in range(n):
            ctx = browser.new_context(viewport={"width": 1400, "height": 1200},
                                      accept_downloads=True)
            contexts.append(ctx)
            pg = ctx.new_page()
            pg.set_default_timeout(120_000)
            pg.js_errors = []
            pg.on("pageerror", lambda exc, pg=pg: pg.js_errors.append(str(exc)))
            pages.append(pg)
        return pages

    yield make
    for ctx in contexts:
        ctx.close()


def _round_text(page):
    return page.get_by_text(re.compile(r"round \d+ of \d+$"))


def test_a_step_in_one_session_changes_no_other(class_server, people):
    base, _ = class_server
    a, b, c = people(3)
    for pg in (a, b, c):
        open_app(pg, base)
    step(a, 1)
    wait_until(lambda: overlay_sizes(a).get("Queried") == 25, message="A's queried points")
    for other in (b, c):  # untouched: the map's overlays and both runs' curves there, empty
        assert map_overlays(other)["Queried"] == 0
        assert shown_curve_points(other, "minority-share", runs=2) == [0, 0]
        expect(other.get_by_text(re.compile(r"^Ready"))).to_be_visible()
    step(b, 1)
    wait_until(lambda: curve_points(b, "minority-share") == [1, 1], message="B's round 1")
    assert curve_points(a, "minority-share") == [1, 1]  # A still has one round, not two
    assert shown_curve_points(c, "minority-share", runs=2) == [0, 0]
    assert a.js_errors == b.js_errors == c.js_errors == []


def _save_as(page, name):
    box = page.get_by_label("Session directory")
    box.fill(name)
    box.press("Enter")
    page.get_by_role("button", name="Save as session").click()


def test_labels_stay_in_their_own_session_directory_and_a_shared_one_is_locked(class_server,
                                                                                people):
    base, root = class_server
    a, b = people(2)
    for pg in (a, b):
        open_app(pg, base)
    _save_as(a, "alice")
    expect(a.get_by_text(re.compile(r"Saved as session .*alice"))).to_be_visible()
    _save_as(b, "bob")
    expect(b.get_by_text(re.compile(r"Saved as session .*bob"))).to_be_visible()
    step(a, 1)
    wait_until(lambda: len(pd.read_parquet(root / "alice" / "labels.parquet")) == 2 * 25,
               message="alice's round 1 saved")
    assert len(pd.read_parquet(root / "bob" / "labels.parquet")) == 0
    assert map_overlays(b)["Queried"] == 0
    # B opens A's directory: A holds its writer lock, so B is told and changes nothing
    box = b.get_by_label("Session directory")
    box.fill("alice")
    box.press("Enter")
    b.get_by_role("button", name="Open session").click()
    expect(b.locator(".alert-danger").filter(has_text="open for writing by another process")
           ).to_be_visible(timeout=120_000)
    assert len(pd.read_parquet(root / "alice" / "labels.parquet")) == 2 * 25
    assert map_overlays(b)["Queried"] == 0
    # and no page may reach out of the session root
    box.fill("../elsewhere")
    box.press("Enter")
    b.get_by_role("button", name="Save as session").click()
    expect(b.locator(".alert-danger").filter(has_text="outside the session root")).to_be_visible()
    assert not (root.parent / "elsewhere").exists()


_HOVER_JS = """([figure, layer]) => {
  for (const doc of Bokeh.documents) {
    const models = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
    for (const m of models) {
      if ((m.type !== "Figure" && m.type !== "Plot") || m.name !== figure) continue;
      const view = Bokeh.index.find_one(m);
      if (!view) continue;
      const r = m.renderers.find(r => r.name === layer && r.data_source &&
                                      r.data_source.get_length() > 0);
      if (!r) return null;
      const d = r.data_source.data;
      const rect = view.canvas_view.el.getBoundingClientRect();
      return {x: rect.left + view.frame.x_scale.compute(d.x[0]),
              y: rect.top + view.frame.y_scale.compute(d.y[0]), text: d.text[0]};
    }
  }
  return null;
}"""


def test_hostile_text_stays_text_in_hover_table_and_exports(class_server, people, tmp_path):
    base, _ = class_server
    (pg,) = people(1)
    pg.add_init_script("window.__xss = null;")
    open_app(pg, base, "hostile")
    step(pg, 1)
    # the queries table: plain text cells
    cells = pg.locator(".tabulator-cell[tabulator-field='text']")
    expect(cells.first).to_be_visible()
    shown = " ".join(cells.all_inner_texts())
    assert any(t[:12] in shown for t in CLASS_TEXTS), shown
    # the map's hover: the tooltip shows the text of the hovered query, fields not re-expanded
    point = wait_until(lambda: pg.evaluate(_HOVER_JS, ["anchoral-map", "Queried"]),
                       message="a queried point on the map")
    pg.mouse.move(point["x"], point["y"])
    tip = pg.locator(".bk-tooltip-content").first
    expect(tip).to_be_visible()
    tip_text = tip.inner_text()
    assert point["text"][:20] in tip_text, (point["text"], tip_text)
    if point["text"].startswith("@label"):
        assert "@label @{text}" in tip_text  # not replaced by the label field
    # exports: the downloaded labels carry the texts exactly as written
    pg.get_by_text("Export", exact=True).click()
    with pg.expect_download() as dl:
        pg.get_by_role("button", name="Labels CSV").click()
    path = tmp_path / "labels.csv"
    dl.value.save_as(path)
    df = pd.read_csv(path, keep_default_na=False)
    # exactly, but for the quote before a text a spreadsheet would run ("@label ...")
    from explorer.export import FORMULA_PREFIXES

    written = {"'" + t if t.startswith(FORMULA_PREFIXES) else t for t in CLASS_TEXTS}
    assert len(df) == 10 and set(df["text"]) <= written
    assert pg.evaluate("window.__xss") is None
    assert pg.locator("img[src='x']").count() == 0
    assert pg.js_errors == []


def _serve_session(session, port, *extra):
    """``anchoral serve sample --session DIR`` in a subprocess, as a teacher starts it."""
    return serve_session_cli(session, port, *extra)


def _saved_rounds(session):
    from explorer.store import read_labels

    try:
        return int(read_labels(session)["round"].max() or 0)
    except Exception:  # not written yet
        return 0


def test_a_server_killed_during_run_n_loses_no_saved_round_and_says_what_was_not(page,
                                                                                  tmp_path,
                                                                                  missing):
    import signal

    from .conftest import sample_source

    if sample_source() != "sample":
        missing("needs the shipped sample vectors (sample_data/embeddings.npy, coords.npy)")
    session = tmp_path / "session"
    proc = _serve_session(session, port := _free_port())
    try:
        open_app(page, f"http://127.0.0.1:{port}", "")
        rounds = page.get_by_label("Rounds (Run N)")
        rounds.fill("10")
        rounds.press("Enter")
        page.get_by_role("button", name="Run N rounds").click()
        wait_until(lambda: _saved_rounds(session) >= 2, timeout=600,
                   message="two rounds saved")
        assert (session / "running.json").exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    saved = _saved_rounds(session)
    labels = pd.read_parquet(session / "labels.parquet")
    assert 2 <= saved < 10 and len(labels) == saved * 25

    proc = _serve_session(session, port := _free_port())
    try:
        with told_on_failure(proc, page):
            page.goto(f"http://127.0.0.1:{port}/")
            expect(page.get_by_text(re.compile(
                rf'the server stopped during "Run 10 rounds" \(started .* at round 0\): '
                rf"{saved} of its rounds were saved, {10 - saved} were not run"))
            ).to_be_visible(timeout=300_000)
            expect(page.get_by_text(re.compile(rf"round {saved} of {saved}$"))).to_be_visible()
            assert not (session / "running.json").exists()
            assert pd.read_parquet(session / "labels.parquet").equals(labels)  # nothing lost
            assert page.js_errors == []
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
