"""Real-browser fixtures: the app served in-process on a free port, Debian chromium via Playwright.

Two apps are served by one Bokeh server in a background thread:

* ``/sample``  — the explorer on the shipped sample (``load_prepared("sample")``, as in production);
* ``/hostile`` — a small synthetic pool whose texts and class names are hostile markup;
* ``/annotate`` — the sample with all but 10 labels per class removed (annotate mode: a person
  labels every batch);
* ``/hostile-label`` — the hostile pool labelled by hand.

A screenshot of every failing test's page is kept in ``tests/ui/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import time
import urllib.request
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = os.environ.get("ANCHORAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

HOSTILE_TEXTS = [
    "<script>window.__xss = 'script'</script> free money now",
    '<img src=x onerror="window.__xss = \'img\'"> meeting at noon',
    "<b>bold</b> & <i>entities</i> &amp; plain report",
    '"><svg onload="window.__xss = \'svg\'"> quarterly invoice',
]
HOSTILE_CLASSES = ("<b>ham</b>", "<img src=x onerror=\"window.__xss='class'\">")


#: a browser test whose page missed a state change (a Playwright expectation timed out) runs once
#: more: a loaded box still loses a click now and then (the JupyterLab inline tests); one cause
#: of stale status lines, session callbacks run out of order, is fixed (docs/design.md, "What a
#: Step costs the browser"); every rerun is listed in the summary (``-rR``) and a second failure
#: fails the suite. Any other failure is not rerun.
RERUN_ON = ["Locator expected to"]


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.ui)
            item.add_marker(pytest.mark.flaky(reruns=1, only_rerun=RERUN_ON))


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hostile_prepared():
    from explorer.ui.synthetic import synthetic_prepared

    p = synthetic_prepared(800, dim=16, minority_share=0.1, texts=HOSTILE_TEXTS,
                           projection="generated")
    ds = dataclasses.replace(p.dataset, classes=HOSTILE_CLASSES, name="hostile")
    return dataclasses.replace(p, dataset=ds)


def annotate_prepared(prepared, per_class=10, seed=0):
    """``prepared`` with all but ``per_class`` seed labels per class removed (label -1)."""
    import hashlib

    import numpy as np

    ds = prepared.dataset
    rng = np.random.default_rng(seed)
    y = np.full(ds.n, -1, np.int64)
    for c in range(ds.n_classes):
        keep = rng.choice(np.flatnonzero(ds.y == c), per_class, replace=False)
        y[keep] = c
    digest = hashlib.sha256(ds.content_hash.encode() + y.tobytes()).hexdigest()
    dataset = dataclasses.replace(ds, y=y, content_hash=digest, name=f"{ds.name}-annotate",
                                  split=None)
    return dataclasses.replace(prepared, dataset=dataset)


def sample_source() -> str:
    """The shipped sample when its vectors ship (no embedding on start), else a synthetic pool."""
    root = Path(__file__).resolve().parents[2] / "sample_data"
    if (root / "embeddings.npy").exists() and (root / "coords.npy").exists():
        return "sample"
    return "synthetic:4000"


@pytest.fixture(scope="session")
def app_url():
    """Base URL of an in-process Panel server with the ``sample`` and ``hostile`` apps."""
    import panel as pn

    from explorer.ui.app import ExplorerApp, load_prepared

    pn.extension("tabulator", notifications=False, sizing_mode="stretch_width")
    source = sample_source()
    shared = {"sample": load_prepared(source), "hostile": hostile_prepared()}
    shared["annotate"] = annotate_prepared(shared["sample"])

    def sample():
        return ExplorerApp(shared["sample"], dataset=source, datasets=[source]).template()

    def hostile():
        return ExplorerApp(shared["hostile"], dataset="hostile", datasets=["hostile"],
                           init_size=40, query_size=10, n_neighbors=20).template()

    def annotate():
        return ExplorerApp(shared["annotate"], dataset="sample-annotate",
                           datasets=["sample-annotate"], filters=["anchoral"],
                           query_size=10).template()

    def hostile_label():
        return ExplorerApp(shared["hostile"], dataset="hostile", datasets=["hostile"],
                           init_size=40, query_size=3, n_neighbors=20, filters=["anchoral"],
                           label_by_hand=True).template()

    port = _free_port()
    server = pn.serve({"sample": sample, "hostile": hostile, "annotate": annotate,
                       "hostile-label": hostile_label}, port=port, address="127.0.0.1",
                      websocket_origin=f"127.0.0.1:{port}", show=False, threaded=True,
                      start=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300  # the first page renders every view: minutes on a loaded box
    while True:
        try:
            urllib.request.urlopen(f"{base}/sample", timeout=120).read(100)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    yield base
    server.stop()


def chromium_path():
    """``$ANCHORAL_CHROMIUM`` (default /usr/bin/chromium) or ``chromium`` on the PATH; None."""
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@pytest.fixture(scope="session")
def browser(missing):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # a loaded 2-core CI machine: wait, never sleep
    exe = chromium_path()
    if exe is None:  # a skip on a person's machine, a failure with CI=true
        missing(f"no chromium at {CHROMIUM} nor on the PATH (make browser)")

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1500, "height": 1300})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    errors = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
    pg.js_errors = errors
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = request.node.name.replace("/", "_")
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        try:
            shown = figures(pg)
        except Exception as err:  # kept with the screenshot: the page may be gone
            shown = {"error": str(err)}
        (ARTIFACTS / f"{name}.json").write_text(json.dumps(shown, indent=1, default=str))
    context.close()


# ------------------------------------------------------------------------------ page helpers
_FIGURES_JS = """() => {
  const out = {};
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    const models = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
    for (const m of models) {
      if (m.type !== "Figure" && m.type !== "Plot") continue;
      if (!m.name) continue;
      // a legend's stand-ins (explorer/ui/legend.py) draw nothing: not part of what a plot shows
      out[m.name] = m.renderers.filter(r => r.data_source &&
                                            r.data_source.name !== "legend-stand-ins").map(r => ({
        name: r.name, glyph: r.glyph.type,
        n: r.data_source.get_length ? (r.data_source.get_length() || 0) : 0,
        visible: r.visible,
        color: r.glyph.line_color ? JSON.stringify(r.glyph.line_color) : null,
        // the comparison plots' points: every run's rows in one source, by its "run" column
        runs: r.data_source.data && r.data_source.data.run ? Array.from(r.data_source.data.run) : null,
        // the comparison plots' lines: one MultiLine per kind, a row per run (its points drawn)
        lines: r.glyph.type !== "MultiLine" ? null : Array.from(r.data_source.data.run).map(
          (run, i) => ({run, color: r.data_source.data.color[i],
                        n: Array.from(r.data_source.data[r.glyph.ys.field][i] || [])
                             .filter(Number.isFinite).length})),
      }));
    }
  }
  return out;
}"""


def figures(page) -> dict:
    """{figure name: [{name, glyph, n (rows), visible, color}]} for every named Bokeh figure.

    An error of the page (closed, crashed, a script error) raises: an empty answer would let
    a "nothing changed" check pass on a page that shows nothing.
    """
    return page.evaluate(_FIGURES_JS)


def overlay_sizes(page) -> dict:
    """Rows in each map overlay, by legend label ({} while the map is not in the page)."""
    return {r["name"]: r["n"] for r in figures(page).get("anchoral-map", []) if r["name"]}


def curve_lines(page, figure) -> list:
    """The lines a comparison figure draws: ``{run, color, n}`` for every run's line of every
    kind with at least one finite point (``n``), from the figure's ``MultiLine`` renderers."""
    return [line for r in figures(page).get(figure, []) if r["glyph"] == "MultiLine"
            for line in r["lines"] if line["n"]]


def curve_points(page, figure) -> list:
    """Points per compared run in a comparison figure, in the order of the runs' lines: the
    rows of each run in the figure's one points renderer (``[]`` while the figure is not there,
    ``[0, 0]`` for two runs before a round)."""
    shown = figures(page).get(figure, [])
    runs = list(dict.fromkeys(line["run"] for r in shown if r["glyph"] == "MultiLine"
                              for line in r["lines"]))
    points = [r for r in shown if r["glyph"] == "Scatter"]
    if not points:
        return []
    assert len(points) == 1, f"{figure}: one points renderer for every run, not {len(points)}"
    col = points[0]["runs"] or []
    return [col.count(run) for run in runs]


#: the map's overlays, present (empty) from the page's first document on
MAP_LAYERS = ("Subpool", "Anchors", "Queried")


def map_overlays(page, timeout=120.0) -> dict:
    """:func:`overlay_sizes` once the map and its overlays are in the page, for a "nothing
    changed" check: it first proves it sees the layers it inspects (fails otherwise)."""
    return wait_until(lambda: (s := overlay_sizes(page)) and all(k in s for k in MAP_LAYERS)
                      and s, timeout=timeout, message=f"the map's overlays {MAP_LAYERS}")


def shown_curve_points(page, figure, runs, timeout=120.0) -> list:
    """:func:`curve_points` once ``figure`` shows the points of ``runs`` compared runs, for a
    "nothing changed" check: fails when the figure or its runs are not there."""
    return wait_until(lambda: len(p := curve_points(page, figure)) == runs and p,
                      timeout=timeout, message=f"{figure} with {runs} runs' points")


def wait_until(fn, timeout=60.0, interval=0.25, message="condition"):
    """Poll ``fn()`` until truthy (the Python side of Playwright's expect.poll)."""
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}; "
                                 f"last value {value!r}")
        time.sleep(interval)


_PIXELS_JS = """(el) => {
  const canvases = [];
  const walk = (root) => {
    for (const c of root.querySelectorAll("canvas")) canvases.push(c);
    for (const e of root.querySelectorAll("*")) if (e.shadowRoot) walk(e.shadowRoot);
  };
  walk(el.shadowRoot || el);
  if (el.shadowRoot) walk(el);
  let best = 0;
  for (const c of canvases) {
    let ctx;
    try { ctx = c.getContext("2d"); } catch (e) { continue; }
    if (!ctx || !c.width || !c.height) continue;
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 0 && (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235)) n++;
    }
    best = Math.max(best, n);
  }
  return best;
}"""


def drawn_pixels(page, selector=".anchoral-map") -> int:
    """Coloured (non-white, non-transparent) pixels on the canvases under ``selector``."""
    loc = page.locator(selector).first
    return loc.evaluate(_PIXELS_JS)


def serve_session_cli(session, port, *extra, timeout=600):
    """``anchoral serve sample --session DIR --filters anchoral [extra]`` in a subprocess, on
    loopback, as a person starts it; returns the process once the server answers."""
    import os
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "explorer.cli", "serve", "sample", "--session", str(session),
           "--filters", "anchoral", "--port", str(port), "--address", "127.0.0.1", *extra]
    # the server's log goes to a file, never to an unread pipe: a full pipe (64 KiB of
    # warnings) would block the server in its next write, its event loop with it
    log = Path(session).parent / f"serve-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=out,
                                env=dict(os.environ, HF_HUB_OFFLINE="1"))
    proc.log = log
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=30)
            return proc
        except OSError as err:
            if getattr(err, "code", None) is not None:
                return proc
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError("anchoral serve did not start: "
                                   f"{log.read_text()[-4000:]}") from err
            time.sleep(0.3)


@contextlib.contextmanager
def told_on_failure(proc, page=None):
    """Re-raise a failure inside with the server's log tail and the page's JavaScript errors
    appended: a served subprocess's errors are otherwise lost with it."""
    try:
        yield
    except BaseException as err:
        log = getattr(proc, "log", None)
        tail = log.read_text(errors="replace")[-6000:] if log is not None and log.exists() else ""
        js = getattr(page, "js_errors", None)
        raise AssertionError(f"{err}\n--- server log (tail) ---\n{tail or '(empty)'}\n"
                             f"--- page JavaScript errors ---\n{js!r}") from err
