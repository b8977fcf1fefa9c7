"""The page's weight and latency, before/after side by side (issue 20): one command.

    python benchmarks/bench_light.py --before /work/wt-light-before            # sample, 1 person
    python benchmarks/bench_light.py --before DIR --class 10 --big 1000000      # + class, 1M map
    python benchmarks/bench_light.py --before DIR --profile                     # + CDP profiles

Each variant (``--before DIR``: another checkout of this project; ``--after DIR``: default this
one) is served by ``anchoral serve`` run from its own tree (``PYTHONPATH=DIR``), alternately
(before, after, before, after... ``--repeat`` times), each on a fresh server, so both share the
same load; the load average is recorded with every figure. Chromium is /usr/bin/chromium with
the args of ``tests/ui/conftest.py``; CPU is read from ``/proc`` (the server process; the
Chromium processes started by this script) and reported net of the idle rate measured just
before.

Per variant (sample, 4 compared runs: AnchorAL, full, randsub, SEALS):

* models / stylesheets: the first Bokeh document, the page once drawn, the whole page after
  opening every tab and card (``tests/ui/page_weight.py``); figures, widgets.
* open: navigation -> the whole page drawn (map and the deferred plots and table), wall and
  browser / server CPU.
* Step: click -> "round N of N" over the map AND the queried overlay replaced (timed in the page
  from the click event), browser and server CPU per Step; after 5 rounds and after 50.
* replay: "Previous round" / "Next round" click -> the map shows that round (title and overlay).
* ``--class N``: N browser contexts open one server at once (time to each map), 5 Step at once.
* ``--big N``: ``synthetic:N`` with the generator's own layout (``benchmarks/serve_generated.py``;
  no 36-min UMAP), drag-pan and wheel-zoom -> datashader image replaced.

Results: ``benchmarks/results/app_light.json`` (or ``--out NAME``) and a printed table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "ui"))
from common import save, table  # noqa: E402

FILTERS = "anchoral,full,randsub,seals"
TICK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------ processes
def cpu_s(pid) -> float:
    """CPU seconds (user + system) of ``pid`` so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def _children():
    """{pid: ppid} of every process."""
    out = {}
    for d in Path("/proc").glob("[0-9]*"):
        try:
            out[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return out


def browser_cpu_s(root=None) -> float:
    """CPU seconds of the Chromium processes under ``root`` (default: this process)."""
    return sum(browser_cpu_by_type(root).values())


def browser_cpu_by_type(root=None) -> dict:
    """CPU seconds of the Chromium processes under ``root`` by kind (``renderer``: the page's
    scripts, style, layout; ``gpu-process``: raster and compositing, in software here;
    ``browser``; ``utility``...)."""
    root = root or os.getpid()
    parents = _children()
    total = {}
    for pid in parents:
        p, ok = pid, False
        while p > 1:
            p = parents.get(p, 0)
            if p == root:
                ok = True
                break
        if not ok:
            continue
        try:
            if "chrom" not in Path(f"/proc/{pid}/comm").read_text():
                continue
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").split()
        except OSError:
            continue
        kind = next((a[7:].decode() for a in cmd if a.startswith(b"--type=")), "browser")
        total[kind] = total.get(kind, 0.0) + cpu_s(pid)
    return total


def log(*what):
    print(time.strftime("%H:%M:%S"), *what, file=sys.stderr, flush=True)


def loadavg() -> float:
    return round(os.getloadavg()[0], 2)


def serve(checkout, *args, env=None, timeout_s=1800, launcher=None):
    """``anchoral serve ARGS`` run from ``checkout`` (its own code) on a free port
    (``launcher``: a script run instead of ``-m explorer.cli``)."""
    from conftest import _free_port

    port = _free_port()
    head = [str(launcher)] if launcher else ["-m", "explorer.cli"]
    cmd = [sys.executable, *head, "serve", *args, "--port", str(port),
           "--address", "127.0.0.1"]
    penv = dict(os.environ, PYTHONPATH=str(checkout), HF_HUB_OFFLINE="1", **(env or {}))
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=checkout, env=penv, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=30)
            break
        except OSError as err:
            if getattr(err, "code", None) is not None:
                break
            if proc.poll() is not None or time.perf_counter() - t0 > timeout_s:
                proc.kill()
                raise RuntimeError(f"the server in {checkout} did not start") from err
            time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}/", time.perf_counter() - t0


def stop(proc):
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def rss_mib(pid) -> dict:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmHWM:", "VmRSS:")):
                k, v = line.split(":")
                out[k] = round(int(v.split()[0]) / 1024)
    except OSError:
        pass
    return out


# ------------------------------------------------------------------------------- in the page
#: the Step / player buttons record their click time (performance.now()) in the page
CLICKS_JS = """() => { if (window.__clicks) return; window.__clicks = {};
  document.addEventListener("click", (e) => {
    for (const el of e.composedPath()) {
      const name = el && el.getAttribute ? (el.getAttribute("aria-label") || el.textContent || "").trim() : "";
      if (el && el.tagName === "BUTTON" && name) { window.__clicks[name] = performance.now(); break; }
    }
  }, true); }"""

#: the queried overlay's data object and the map title (to see both change)
QUERIED_JS = """() => { for (const doc of Bokeh.documents) {
  const ms = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
  const fig = ms.find(m => m.name === "anchoral-map");
  if (!fig) continue;
  const r = fig.renderers.find(r => r.name === "Queried");
  window.__queried = r.data_source; window.__queried_data = r.data_source.data.id; return true; }
  return false; }"""

ROUND_SHOWN_JS = """([pattern, button]) => {
  const src = window.__queried;
  const ids = src.data.id;
  if (ids === window.__queried_data || !ids || !ids.length) return false;
  const re = new RegExp(pattern);
  const found = (root) => { for (const el of root.querySelectorAll("*")) {
      if (el.shadowRoot && found(el.shadowRoot)) return true;
      if (el.children.length === 0 && re.test((el.textContent || "").trim())) return true; }
    return false; };
  if (!found(document)) return false;
  return performance.now() - window.__clicks[button];
}"""


def click_until_shown(page, button, title_pattern, timeout=120):
    """Click ``button``; seconds from the click event to ``title_pattern`` over the map and the
    queried overlay replaced (measured in the page, polled every animation frame)."""
    page.evaluate(QUERIED_JS)
    page.get_by_role("button", name=button, exact=True).click()
    ms = page.wait_for_function(ROUND_SHOWN_JS, arg=[title_pattern, button], polling="raf",
                                timeout=timeout * 1000).json_value()
    return ms / 1000


def _idle_rates(server_pid, seconds=1.0):
    b0, s0, t0 = browser_cpu_s(), cpu_s(server_pid), time.perf_counter()
    time.sleep(seconds)
    dt = time.perf_counter() - t0
    return (browser_cpu_s() - b0) / dt, (cpu_s(server_pid) - s0) / dt


def step_cpu(page, server_pid, button, pattern, settle=0.5):
    """(wall s, browser CPU s, server CPU s) of one click, CPU net of the idle rate and
    counted until ``settle`` s after the round is shown (the plots finish drawing)."""
    page.wait_for_timeout(1000)  # the previous action's drawing done
    ib, is_ = _idle_rates(server_pid, 0.6)
    k0, s0, t0 = browser_cpu_by_type(), cpu_s(server_pid), time.perf_counter()
    wall = click_until_shown(page, button, pattern)
    time.sleep(settle)
    dt = time.perf_counter() - t0
    k1 = browser_cpu_by_type()
    kinds = {k: round(k1.get(k, 0) - k0.get(k, 0), 2) for k in k1}
    b, s = sum(kinds.values()), cpu_s(server_pid) - s0
    log(f"{button}: {wall:.2f} s; browser CPU {b:.2f} s {kinds} (idle {ib * dt:.2f}), "
        f"server {s:.2f} (idle {is_ * dt:.2f}); load {loadavg()}")
    return wall, max(b - ib * dt, 0.0), max(s - is_ * dt, 0.0)


def run_rounds(page, n, done):
    from playwright.sync_api import expect

    box = page.get_by_label("Rounds (Run N)")
    box.fill(str(n))
    box.press("Enter")
    page.get_by_role("button", name="Run N rounds").click()
    expect(page.get_by_text(re.compile(rf"round {done} of {done}$"))).to_be_visible(
        timeout=1800_000)
    expect(page.get_by_role("button", name="Step")).to_be_enabled(timeout=600_000)


# ------------------------------------------------------------------------------- CDP profile
def _frame_name(node) -> str:
    cf = node["callFrame"]
    name = cf.get("functionName") or "(anonymous)"
    url = cf.get("url", "").rsplit("/", 1)[-1].split("?")[0]
    return f"{name} {url}:{cf.get('lineNumber', 0)}" if url else name


def profile_summary(profile, top=15) -> list:
    """The functions with the most self time in a CDP ``Profiler.stop`` profile, each with
    the JS callers that spent it (native DOM calls are named by who made them)."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}
    self_us = {}
    deltas = profile.get("timeDeltas", [])
    for sid, dt in zip(profile.get("samples", []), deltas[1:] + [0]):
        self_us[sid] = self_us.get(sid, 0) + dt
    by_fn, callers = {}, {}
    for nid, us in self_us.items():
        key = _frame_name(nodes[nid])
        by_fn[key] = by_fn.get(key, 0) + us
        chain, p = [], parent.get(nid)
        while p is not None and len(chain) < 3:
            chain.append(_frame_name(nodes[p]).split(" ")[0])
            p = parent.get(p)
        c = callers.setdefault(key, {})
        c[" < ".join(chain)] = c.get(" < ".join(chain), 0) + us
    total = sum(by_fn.values()) or 1
    rows = sorted(by_fn.items(), key=lambda kv: -kv[1])[:top]
    return [{"function": k, "ms": round(v / 1000, 1), "share": round(v / total, 3),
             "callers": [(c, round(t / 1000, 1)) for c, t in
                         sorted(callers[k].items(), key=lambda kv: -kv[1])[:3]]}
            for k, v in rows]


class Profiler:
    """CDP sampling profiler and Performance metrics of one page."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Profiler.enable")
        self.cdp.send("Performance.enable")
        self.cdp.send("Profiler.setSamplingInterval", {"interval": 500})

    def metrics(self):
        got = self.cdp.send("Performance.getMetrics")["metrics"]
        return {m["name"]: m["value"] for m in got}

    def start(self):
        self._m0 = self.metrics()
        self.cdp.send("Profiler.start")

    def stop(self):
        prof = self.cdp.send("Profiler.stop")["profile"]
        m1 = self.metrics()
        keys = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration",
                "LayoutCount", "RecalcStyleCount")
        delta = {k: round(m1.get(k, 0) - self._m0.get(k, 0), 3) for k in keys}
        return {"metrics": delta, "top": profile_summary(prof)}


# ------------------------------------------------------------------------------ one person
def measure_person(checkout, label, args):
    """Weight, open, Step (after 5 and after ``args.long`` rounds), replay: one fresh server."""
    from page_weight import (FIRST_DOCUMENT_JS, first_document, open_everything, page_weight,
                             wait_whole_page)
    from conftest import drawn_pixels, wait_until
    from measure_app import browser
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=300_000)
    row = {"variant": label, "checkout": str(checkout), "loadavg start": loadavg()}
    # a profile names BokehJS's functions (unminified scripts); the timed runs use the default
    env = {"BOKEH_MINIFIED": "false"} if args.profile else None
    proc, url, t_server = serve(checkout, "sample", "--filters", FILTERS, env=env)
    row["server start (s)"] = t_server
    prof = {}
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            ctx = b.new_context(viewport={"width": 1500, "height": 1300})
            ctx.add_init_script(FIRST_DOCUMENT_JS)
            page = ctx.new_page()
            profiler = Profiler(page) if args.profile else None
            time.sleep(1)
            ib, is_ = _idle_rates(proc.pid, 1.0)
            b0, s0, t0 = browser_cpu_s(), cpu_s(proc.pid), time.perf_counter()
            if profiler:
                profiler.start()
            page.goto(url, timeout=600_000)
            wait_until(lambda: drawn_pixels(page) > 2000, timeout=300, interval=0.02,
                       message="map")
            log("map drawn")
            row["map drawn (s)"] = page.evaluate("() => performance.now()") / 1000
            wait_whole_page(page)
            # the whole page: its parts in, then two frames painted with no layout pending
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                          "requestAnimationFrame(r)))")
            row["whole page drawn (s)"] = page.evaluate("() => performance.now()") / 1000
            dt = time.perf_counter() - t0
            row["open: browser CPU (s)"] = max(browser_cpu_s() - b0 - ib * dt, 0)
            row["open: server CPU (s)"] = max(cpu_s(proc.pid) - s0 - is_ * dt, 0)
            if profiler:
                prof["open"] = profiler.stop()
            log("whole page drawn")
            row["loadavg open"] = loadavg()
            first = first_document(page) or {}
            row["first document: models"] = first.get("models")
            drawn = page_weight(page)
            row["page drawn: models"] = drawn["models"]
            row["page drawn: stylesheets"] = drawn["stylesheets"]
            opened = open_everything(page)
            whole = page_weight(page)
            row.update({"whole page: models": whole["models"],
                        "whole page: stylesheets": whole["stylesheets"],
                        "whole page: shadow roots": whole["shadow_roots"],
                        "figures": whole["figures"], "widgets": whole["widgets"],
                        "opened": opened, "by_type": whole["by_type"]})
            log("opened", opened)
            tabs = page.locator(".bk-tab")
            if tabs.count():
                tabs.first.click()
            page.evaluate(CLICKS_JS)
            steps, bcpu, scpu = [], [], []
            for i in range(1, 6):
                if profiler and i == 3:
                    profiler.start()
                w, bc, sc = step_cpu(page, proc.pid, "Step", rf"round {i} of {i}$")
                if profiler and i == 3:
                    prof["step"] = profiler.stop()
                steps.append(w)
                bcpu.append(bc)
                scpu.append(sc)
            # the first Step also trains round 0: the figures are rounds 2-5
            row.update({"Step wall, median (s)": statistics.median(steps[1:]),
                        "Step wall, max (s)": max(steps[1:]),
                        "Step browser CPU, median (s)": statistics.median(bcpu[1:]),
                        "Step server CPU, median (s)": statistics.median(scpu[1:]),
                        "first Step (s)": steps[0], "steps": steps,
                        "loadavg steps": loadavg()})
            log("steps", steps)
            replay = []
            for i in range(3):
                page.wait_for_timeout(200)
                replay.append(click_until_shown(page, "Previous round", rf"round {4 - i} of 5$"))
            for i in range(3):
                page.wait_for_timeout(200)
                replay.append(click_until_shown(page, "Next round", rf"round {3 + i} of 5$"))
            row.update({"replay, median (s)": statistics.median(replay),
                        "replay, max (s)": max(replay), "replays": replay})
            log("replays", replay)
            expect(page.get_by_text(re.compile(r"round 5 of 5$"))).to_be_visible()
            if args.long > 5:
                run_rounds(page, args.long - 6, args.long - 1)
                late, lb, ls = [], [], []
                for i in range(args.long, args.long + 3):
                    w, bc, sc = step_cpu(page, proc.pid, "Step", rf"round {i} of {i}$")
                    late.append(w)
                    lb.append(bc)
                    ls.append(sc)
                late_weight = page_weight(page)
                row.update({f"Step after {args.long}, median (s)": statistics.median(late),
                            f"Step after {args.long}, browser CPU (s)": statistics.median(lb),
                            f"Step after {args.long}, server CPU (s)": statistics.median(ls),
                            f"models after {args.long}": late_weight["models"],
                            "loadavg late": loadavg()})
            if args.shot:
                page.screenshot(path=args.shot.replace("VARIANT", label), full_page=True)
            b.close()
        row["server RSS (MiB)"] = rss_mib(proc.pid).get("VmHWM")
    finally:
        stop(proc)
    if prof:
        row["profile"] = prof
    return row


# ------------------------------------------------------------------------------- a class
#: set on every page before it loads: the wall-clock time (ms since the epoch) at which the map
#: first shows > 2000 coloured pixels, checked in the page every 100 ms, reading pixels only
#: once BokehJS says the map's view has finished drawing. (Polling ``drawn_pixels`` from the
#: harness, as before, read every canvas of ten pages 20 times a second while they loaded:
#: the harness then spent more of the two cores than some of the pages it timed.)
MAP_DRAWN_JS = """(() => {
  window.__mapDrawnAt = null;
  let fig = null;
  const coloured = (root) => {
    const canvases = [];
    const walk = (r) => {
      for (const c of r.querySelectorAll("canvas")) canvases.push(c);
      for (const e of r.querySelectorAll("*")) if (e.shadowRoot) walk(e.shadowRoot);
    };
    walk(root);
    let best = 0;
    for (const c of canvases) {
      if (!c.width || !c.height) continue;
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4)
        if (d[i + 3] > 0 && (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235)) n++;
      best = Math.max(best, n);
    }
    return best;
  };
  const timer = setInterval(() => {
    try {
      if (!window.Bokeh || !Bokeh.documents || !Bokeh.documents.length) return;
      if (fig === null) {
        for (const doc of Bokeh.documents) {
          const ms = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
          fig = ms.find((m) => m.name === "anchoral-map") || null;
          if (fig !== null) break;
        }
        if (fig === null) return;
      }
      const view = Bokeh.index.find_one(fig);
      if (!view || (view.has_finished && !view.has_finished())) return;
      if (coloured(view.el.shadowRoot || view.el) > 2000) {
        window.__mapDrawnAt = Date.now();
        clearInterval(timer);
      }
    } catch (e) { /* not ready yet */ }
  }, 100);
})();"""


def wait_quiet(below=2.0, max_s=240):
    """Wait (at most ``max_s``) until the 1-minute load average is under ``below``: a variant
    measured right after another started while the other's ten pages were still closing
    (load 4.7-6.5 against 1.2-2.1); returns the seconds waited."""
    t0 = time.perf_counter()
    while loadavg() >= below and time.perf_counter() - t0 < max_s:
        time.sleep(5)
    return round(time.perf_counter() - t0, 1)


def measure_class(checkout, label, n, n_steps=5):
    """N contexts open one fresh server at once: time to each map; then 5 Step at once."""
    from conftest import figures, overlay_sizes
    from measure_app import browser
    from playwright.sync_api import sync_playwright

    waited = wait_quiet()
    row = {"variant": label, "sessions": n, "waited for load < 2 (s)": waited,
           "loadavg start": loadavg()}
    proc, url, _ = serve(checkout, "sample", "--filters", FILTERS)
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            contexts = [b.new_context(viewport={"width": 1400, "height": 1100})
                        for _ in range(n)]
            for c in contexts:
                c.add_init_script(MAP_DRAWN_JS)
            pages = [c.new_page() for c in contexts]
            t0, w0 = time.perf_counter(), time.time()
            b0, s0 = browser_cpu_s(), cpu_s(proc.pid)
            for pg in pages:
                pg.goto(url, wait_until="commit", timeout=900_000)
            drawn = [None] * n
            while None in drawn and time.perf_counter() - t0 < 900:
                for i, pg in enumerate(pages):
                    if drawn[i] is None:
                        try:
                            at = pg.evaluate("window.__mapDrawnAt")
                        except Exception:
                            at = None
                        if at:
                            drawn[i] = at / 1000 - w0
                time.sleep(0.5)
            for pg in pages:
                for _ in range(9000):
                    if "minority-share" in figures(pg):
                        break
                    time.sleep(0.1)
            row["whole pages (s)"] = time.perf_counter() - t0
            row["browser CPU per page (s)"] = (browser_cpu_s() - b0) / n
            row["server CPU per page (s)"] = (cpu_s(proc.pid) - s0) / n
            time.sleep(2)
            k = min(n_steps, n)
            for pg in pages[:k]:
                pg.evaluate(CLICKS_JS)
                pg.evaluate(QUERIED_JS)
            starts = []
            for pg in pages[:k]:
                starts.append(time.perf_counter())
                pg.get_by_role("button", name="Step").click()
            done = [None] * k
            while None in done and time.perf_counter() - starts[0] < 900:
                for i, pg in enumerate(pages[:k]):
                    if done[i] is None and pg.evaluate(ROUND_SHOWN_JS, [r"round 1 of 1$", "Step"]):
                        done[i] = time.perf_counter() - starts[i]
                time.sleep(0.05)
            untouched = all(overlay_sizes(pg).get("Queried", 0) == 0 for pg in pages[k:])
            b.close()
        got = [t for t in drawn if t is not None]
        stepped = [t for t in done if t is not None]
        row.update({"maps drawn": f"{len(got)}/{n}",
                    "map, median (s)": statistics.median(got) if got else None,
                    "map, max (s)": max(got) if got else None,
                    "5 Steps at once, median (s)": statistics.median(stepped) if stepped else None,
                    "5 Steps at once, max (s)": max(stepped) if stepped else None,
                    "others unchanged": untouched,
                    "server RSS (MiB)": rss_mib(proc.pid).get("VmHWM"),
                    "loadavg end": loadavg(), "maps": drawn, "step times": done})
    finally:
        stop(proc)
    return row


# ------------------------------------------------------------------------------- the 1M map
DRAG_JS = """() => { const doc = Bokeh.documents[0];
  const ms = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
  const fig = ms.find(m => m.name === "anchoral-map");
  const src = fig.renderers.find(r => r.glyph && r.glyph.type.startsWith("Image")).data_source;
  window.__img_src = src; window.__img_n = 0;
  src.connect(src.change, () => { window.__img_n += 1; window.__img_t = performance.now(); });
  src.connect(src.streaming, () => {}); }"""


def measure_big(checkout, label, n, cache_dir):
    """Drag-pan and wheel-zoom on ``synthetic:N``: input end -> image replaced (in the page),
    and how many images the server sent for each gesture."""
    from conftest import drawn_pixels, wait_until
    from measure_app import browser
    from playwright.sync_api import sync_playwright

    row = {"variant": label, "pool": f"synthetic:{n}", "loadavg start": loadavg()}
    proc, url, t_server = serve(checkout, f"synthetic:{n}", "--cache-dir", str(cache_dir),
                                "--filters", "anchoral", timeout_s=3600,
                                launcher=ROOT / "benchmarks" / "serve_generated.py")
    row["server start (s)"] = t_server
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1500, "height": 1300})
            page.goto(url, timeout=900_000)
            wait_until(lambda: drawn_pixels(page) > 2000, timeout=900, message="map")
            page.wait_for_timeout(2000)
            page.evaluate(DRAG_JS)
            box = page.locator(".anchoral-map canvas").first.bounding_box()
            cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            drags, zooms, images = [], [], []
            for k, (action, arg) in enumerate([("drag", 150), ("wheel", -300), ("drag", -120),
                                               ("wheel", 300), ("drag", 100), ("wheel", -200),
                                               ("drag", -80), ("wheel", 200)]):
                n0 = page.evaluate("() => window.__img_n")
                page.mouse.move(cx, cy)
                if action == "wheel":
                    page.mouse.wheel(0, arg)
                    t_end = page.evaluate("() => performance.now()")
                else:
                    # a person's drag: ~20 moves over ~0.3 s
                    page.mouse.down()
                    for s in range(1, 21):
                        page.mouse.move(cx + arg * s / 20, cy + arg * s / 60)
                        page.wait_for_timeout(15)
                    page.mouse.up()
                    t_end = page.evaluate("() => performance.now()")
                page.wait_for_function(f"() => window.__img_n > {n0} && window.__img_t > {t_end}",
                                       timeout=300_000, polling="raf")
                page.wait_for_timeout(800)  # any later image of the same gesture
                t_img, n1 = page.evaluate("() => [window.__img_t, window.__img_n]")
                (drags if action == "drag" else zooms).append((t_img - t_end) / 1000)
                images.append(n1 - n0)
            b.close()
        row.update({"drag-pan, median (s)": statistics.median(drags),
                    "drag-pan, max (s)": max(drags),
                    "wheel zoom, median (s)": statistics.median(zooms),
                    "wheel zoom, max (s)": max(zooms),
                    "images per gesture": images, "drags": drags, "zooms": zooms,
                    "server RSS (MiB)": rss_mib(proc.pid).get("VmHWM"),
                    "loadavg end": loadavg()})
    finally:
        stop(proc)
    return row


PERSON_COLUMNS = ["variant", "first document: models", "page drawn: models",
                  "whole page: models", "page drawn: stylesheets", "whole page: stylesheets",
                  "figures", "widgets", "map drawn (s)", "whole page drawn (s)",
                  "open: browser CPU (s)", "open: server CPU (s)", "Step wall, median (s)",
                  "Step wall, max (s)", "Step browser CPU, median (s)",
                  "Step server CPU, median (s)", "replay, median (s)", "replay, max (s)",
                  "Step after 50, median (s)", "Step after 50, browser CPU (s)",
                  "Step after 50, server CPU (s)", "models after 50", "server RSS (MiB)",
                  "loadavg open", "loadavg steps", "loadavg late"]
CLASS_COLUMNS = ["variant", "sessions", "maps drawn", "map, median (s)", "map, max (s)",
                 "whole pages (s)", "5 Steps at once, median (s)", "5 Steps at once, max (s)",
                 "others unchanged", "browser CPU per page (s)", "server CPU per page (s)",
                 "server RSS (MiB)", "waited for load < 2 (s)", "loadavg start", "loadavg end"]
BIG_COLUMNS = ["variant", "pool", "drag-pan, median (s)", "drag-pan, max (s)",
               "wheel zoom, median (s)", "wheel zoom, max (s)", "images per gesture",
               "loadavg start", "loadavg end"]


def markdown(rows, columns) -> str:
    """``rows`` as a Markdown table, one row per column name and one column per row (the
    variants side by side)."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}"
        return "" if v is None else str(v)
    head = "| | " + " | ".join(fmt(r.get("variant")) for r in rows) + " |"
    out = [head, "|---" + "|--:" * len(rows) + "|"]
    for c in columns[1:]:
        out.append(f"| {c} | " + " | ".join(fmt(r.get(c)) for r in rows) + " |")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, help="the checkout to compare with")
    ap.add_argument("--after", type=Path, default=ROOT, help="default: this checkout")
    ap.add_argument("--repeat", type=int, default=1, help="alternations of the person row")
    ap.add_argument("--long", type=int, default=50, help="rounds before the late Steps "
                    "(0: skip)")
    ap.add_argument("--class", dest="klass", type=int, default=0, metavar="N",
                    help="also N sessions at once")
    ap.add_argument("--big", type=int, default=0, metavar="N", help="also synthetic:N drag/zoom")
    ap.add_argument("--cache-dir", default="/work/cache-light", help="for --big")
    ap.add_argument("--profile", action="store_true", help="CDP profiles of open and a Step")
    ap.add_argument("--shot", help="screenshot path after the Steps (VARIANT is replaced)")
    ap.add_argument("--only", choices=["person", "class", "big"], action="append")
    ap.add_argument("--out", default="app_light")
    ap.add_argument("--table", metavar="JSON", help="only print the Markdown tables of a "
                    "saved result")
    args = ap.parse_args(argv)
    if args.table:
        saved = json.loads(Path(args.table).read_text())
        for key, cols in (("person", PERSON_COLUMNS), ("class", CLASS_COLUMNS),
                          ("big", BIG_COLUMNS)):
            if saved.get(key):
                print(markdown(saved[key], cols) + "\n")
        return
    variants = ([("before", args.before.resolve())] if args.before else []) + \
        [("after", args.after.resolve())]
    only = set(args.only or ["person", "class", "big"])
    result = {"person": [], "class": [], "big": [], "command": " ".join(sys.argv)}

    def dump():
        return save(args.out, result)

    if "person" in only:
        for _ in range(args.repeat):
            for label, checkout in variants:
                result["person"].append(measure_person(checkout, label, args))
                print(table(result["person"], PERSON_COLUMNS), flush=True)
                dump()
    if "class" in only and args.klass:
        for label, checkout in variants:
            try:
                result["class"].append(measure_class(checkout, label, args.klass))
            except Exception as err:  # report what fits on this box, and why not the rest
                result["class"].append({"variant": label, "sessions": args.klass,
                                        "maps drawn": f"failed: {type(err).__name__}: {err}"[:200]})
            print(table(result["class"], CLASS_COLUMNS), flush=True)
            dump()
    if "big" in only and args.big:
        for label, checkout in variants:
            result["big"].append(measure_big(checkout, label, args.big, args.cache_dir))
            print(table(result["big"], BIG_COLUMNS), flush=True)
            dump()
    for rows, cols in ((result["person"], PERSON_COLUMNS), (result["class"], CLASS_COLUMNS),
                       (result["big"], BIG_COLUMNS)):
        if rows:
            print("\n" + markdown(rows, cols))
    for row in result["person"]:
        for what, p in row.get("profile", {}).items():
            print(f"\n{row['variant']} {what}: {json.dumps(p['metrics'])}")
            for f in p["top"][:10]:
                print(f"  {f['ms']:8.1f} ms  {f['share']:5.1%}  {f['function']}")
                for c, t in f.get("callers", [])[:2]:
                    print(f"                          {t:8.1f} ms from {c}")
    print(f"\nsaved {dump()}")


if __name__ == "__main__":
    main()
