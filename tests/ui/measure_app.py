"""Measure the explorer in a real browser (a script, not a test: speed is never asserted).

    python tests/ui/measure_app.py cold        # cold start to map drawn, and Step time, on the sample
    python tests/ui/measure_app.py zoom 1000000  # pan/zoom re-render time on a synthetic pool
    python tests/ui/measure_app.py shot 10     # docs/img/app-10-rounds.png after 10 compared rounds
    python tests/ui/measure_app.py label 3     # label N batches by keys (time to the next round),
                                               # then docs/img/app-labelling.png
    python tests/ui/measure_app.py lesson sample 10  # docs/img/app-cost-lesson-sample.png (page)
                                               # and app-two-runs-sample.png (two runs on one map)

Each mode starts ``panel serve apps/anchoral.py`` in a subprocess on a free port (as a user would)
and drives Debian chromium through Playwright.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, drawn_pixels, overlay_sizes, wait_until  # noqa: E402,E501


def serve(*args):
    """``anchoral serve ARGS`` (warms the app up before it listens), as README command 1 does."""
    port = _free_port()
    cmd = [sys.executable, "-m", "explorer.cli", "serve", *args, "--port", str(port),
           "--address", "127.0.0.1"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=5)
        except OSError as err:
            if getattr(err, "code", None) is not None:  # any HTTP answer: it listens
                break
            if proc.poll() is not None or time.perf_counter() - t0 > 900:  # a loaded box
                raise RuntimeError("the server did not start") from err
            time.sleep(0.1)
            continue
        break
    return proc, url, time.perf_counter() - t0


def browser(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def open_map(page, url):
    t0 = time.perf_counter()
    page.goto(url, timeout=900_000)  # a loaded box renders the first page slowly
    wait_until(lambda: drawn_pixels(page) > 2000, timeout=120, interval=0.05, message="map")
    return time.perf_counter() - t0


#: remembers the queried overlay's rows; ``QUERIED_CHANGED_JS`` is true once they were replaced
QUERIED_MARK_JS = """() => { for (const doc of Bokeh.documents) {
  const ms = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
  const fig = ms.find(m => m.name === "anchoral-map");
  if (!fig) continue;
  const src = fig.renderers.find(r => r.name === "Queried").data_source;
  window.__q_src = src; window.__q_ids = src.data.id; return true; } return false; }"""
QUERIED_CHANGED_JS = """() => { const ids = window.__q_src.data.id;
  return ids !== window.__q_ids && ids && ids.length > 0; }"""


def step_time(page, n_done):
    """Click Step -> "round N of N" over the map AND the queried overlay replaced (the round
    shown, not the first visible change), then the button enabled again."""
    page.evaluate(QUERIED_MARK_JS)
    t0 = time.perf_counter()
    page.get_by_role("button", name="Step").click()
    expect(page.get_by_text(re.compile(rf"round {n_done} of {n_done}$"))).to_be_visible()
    wait_until(lambda: page.evaluate(QUERIED_CHANGED_JS), interval=0.05,
               message="the round's queried overlay")
    expect(page.get_by_role("button", name="Step")).to_be_enabled()
    return time.perf_counter() - t0


def cold():
    expect.set_options(timeout=120_000)
    proc, url, t_server = serve("sample")
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1500, "height": 1300})
            first = open_map(page, url)
            print(f"`anchoral serve sample`: process start to listening (imports, sample loaded, "
                  f"app warmed up): {t_server:.2f} s")
            print(f"first page load to map drawn: {first:.2f} s; from process start: "
                  f"{t_server + first:.2f} s")
            again = []
            for _ in range(3):
                p2 = b.new_page(viewport={"width": 1500, "height": 1300})
                again.append(open_map(p2, url))
                p2.close()
            print(f"later sessions, page load to map drawn: median {statistics.median(again):.2f} s"
                  f" ({', '.join(f'{t:.2f}' for t in again)})")
            steps = [step_time(page, i + 1) for i in range(4)]
            print(f"Step (AnchorAL vs full pool, LR head, 25 queries), click to overlays drawn: "
                  f"first {steps[0]:.2f} s (trains round 0 too), then median "
                  f"{statistics.median(steps[1:]):.2f} s ({', '.join(f'{t:.2f}' for t in steps)})")
            b.close()
    finally:
        proc.terminate()
        proc.wait(10)


ZOOM_JS = """() => {
  const doc = Bokeh.documents[0];
  const models = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
  const fig = models.find(m => m.name === "anchoral-map");
  return fig.renderers.filter(r => r.glyph && r.glyph.type.startsWith("Image"));
}"""


IMAGES_JS = """() => { window.__img = () => { const doc = Bokeh.documents[0];
  const ms = doc.all_models ? Array.from(doc.all_models) : Array.from(doc._all_models.values());
  const fig = ms.find(m => m.name === "anchoral-map");
  return fig.renderers.filter(r => r.glyph && r.glyph.type.startsWith("Image"))
    .map(r => r.data_source.data.image ? r.data_source.data.image[0] : null); }; }"""


def pan_zoom_times(page, actions):
    """Seconds from each wheel/drag on the map until every datashader image was replaced."""
    page.evaluate(IMAGES_JS)
    box = page.locator(".anchoral-map").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    times = []
    for action, arg in actions:
        page.evaluate("() => { window.__before = window.__img(); }")
        t0 = time.perf_counter()
        page.mouse.move(cx, cy)
        if action == "wheel":
            page.mouse.wheel(0, arg)
        else:
            page.mouse.down()
            page.mouse.move(cx + arg, cy + arg / 3, steps=5)
            page.mouse.up()
        page.wait_for_function("""() => { const now = window.__img();
            return now.length && now.every((a, i) => a !== window.__before[i]); }""",
                               timeout=120_000, polling=20)
        times.append(time.perf_counter() - t0)
    return times


def zoom(n):
    expect.set_options(timeout=300_000)
    proc, url, t_server = serve(f"synthetic:{n}", "--index", "exact")
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1500, "height": 1300})
            first = open_map(page, url)
            print(f"synthetic pool of {n:,} rows: server up {t_server:.1f} s, first map "
                  f"{first:.1f} s (builds the pool)")
            times = pan_zoom_times(page, [("wheel", -400), ("wheel", -400), ("drag", 150),
                                          ("wheel", 400), ("drag", -150), ("wheel", -300)])
            print(f"pan/zoom to re-rasterised map: median {statistics.median(times):.2f} s, max "
                  f"{max(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})")
            t = step_time(page, 1)
            print(f"one Step on {n:,} rows (AnchorAL vs full pool): {t:.1f} s")
            b.close()
    finally:
        proc.terminate()
        proc.wait(10)


def shot(rounds):
    expect.set_options(timeout=600_000)
    proc, url, _ = serve("sample", "--filters", "anchoral,full,randsub,seals")
    out = ROOT / "docs" / "img" / f"app-{rounds}-rounds.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1600, "height": 2050})
            open_map(page, url)
            box = page.get_by_label("Rounds (Run N)")
            box.fill(str(rounds))
            box.press("Enter")
            t0 = time.perf_counter()
            page.get_by_role("button", name="Run N rounds").click()
            expect(page.get_by_text(re.compile(rf"Done: {rounds} rounds in"))).to_be_visible()
            print(f"{rounds} rounds x 4 runs: {time.perf_counter() - t0:.1f} s")
            layers = page.get_by_role("button", name="links")
            layers.click()
            wait_until(lambda: overlay_sizes(page).get("Queried", 0) > 0, message="overlays")
            page.wait_for_timeout(1500)  # let the last plot updates paint
            page.screenshot(path=str(out), full_page=True)
            print(f"saved {out.relative_to(ROOT)}")
            b.close()
    finally:
        proc.terminate()
        proc.wait(10)


def label(batches):
    """Label the sample by hand (keys), timing last key -> next batch on the map and queue."""
    import tempfile

    expect.set_options(timeout=300_000)
    tmp = tempfile.mkdtemp(prefix="anchoral-label-")
    proc, url, _ = serve("sample", "--label-by-hand", "--filters", "anchoral", "--session",
                         f"{tmp}/session")
    out = ROOT / "docs" / "img" / "app-labelling.png"
    header = ".anchoral-queue-header"
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1500, "height": 1150})
            open_map(page, url)
            expect(page.locator(header)).to_contain_text("Label round 1")
            times = []
            for r in range(1, batches + 1):
                for k in range(25):
                    expect(page.locator(header)).to_contain_text(f"{k + 1} of 25")
                    t0 = time.perf_counter()
                    page.keyboard.press("2" if k % 4 == 0 else "1")
                expect(page.locator(header)).to_contain_text(f"Label round {r + 1}")
                wait_until(lambda: overlay_sizes(page).get("Queried", 0) == 25, interval=0.05,
                           message="next batch on the map")
                times.append(time.perf_counter() - t0)
            print(f"last label of a batch -> next round's batch in the queue and on the map: "
                  f"median {statistics.median(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})")
            for k in range(4):
                expect(page.locator(header)).to_contain_text(f"{k + 1} of 25")
                page.keyboard.press("1")
            expect(page.locator(header)).to_contain_text("5 of 25")
            page.wait_for_timeout(1000)
            page.screenshot(path=str(out))
            print(f"saved {out.relative_to(ROOT)}")
            b.close()
    finally:
        proc.terminate()
        proc.wait(10)


def lesson(data, rounds, filters="anchoral,full,randsub,seals"):
    """The cost lesson after ``rounds`` compared rounds: the whole page (plots, summary,
    projection), then the two-run map of AnchorAL vs the full pool."""
    expect.set_options(timeout=900_000)
    proc, url, _ = serve(data, "--filters", filters)
    page_png = ROOT / "docs" / "img" / f"app-cost-lesson-{data}.png"
    two_png = ROOT / "docs" / "img" / f"app-two-runs-{data}.png"
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1600, "height": 1300})
            open_map(page, url)
            box = page.get_by_label("Rounds (Run N)")
            box.fill(str(rounds))
            box.press("Enter")
            page.get_by_role("button", name="Run N rounds").click()
            expect(page.get_by_text(re.compile(rf"Done: {rounds} rounds in"))).to_be_visible()
            wait_until(lambda: overlay_sizes(page).get("Queried", 0) > 0, timeout=300,
                       message="overlays")
            expect(page.locator(".anchoral-summary")).to_be_visible()
            page.wait_for_timeout(2000)  # let the last plot updates paint
            page.screenshot(path=str(page_png), full_page=True)
            print(f"saved {page_png.relative_to(ROOT)}")
            page.get_by_text("Two runs on one map", exact=True).click()  # a Bokeh tab
            caption = page.locator(".anchoral-two-runs-caption")
            expect(caption).to_be_visible()
            wait_until(lambda: drawn_pixels(page, ".anchoral-map >> nth=1") > 2000, timeout=300,
                       message="the two-run map")
            page.wait_for_timeout(2000)
            caption.scroll_into_view_if_needed()
            panel = page.locator(".bk-Tabs, .bk-tabs").last
            (panel if panel.count() else page).screenshot(path=str(two_png))
            print(f"saved {two_png.relative_to(ROOT)}: {caption.inner_text()}")
            b.close()
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "cold"
    if mode == "cold":
        cold()
    elif mode == "zoom":
        zoom(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
    elif mode == "shot":
        shot(int(sys.argv[2]) if len(sys.argv) > 2 else 10)
    elif mode == "label":
        label(int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    elif mode == "lesson":
        lesson(sys.argv[2] if len(sys.argv) > 2 else "sample",
               int(sys.argv[3]) if len(sys.argv) > 3 else 10)
    else:
        sys.exit(__doc__)
