"""Screenshots of the Explore verbs on a large synthetic pool, by hand (not a test).

    python tests/ui/shot_explore.py 1000000 docs/img/explore-1m    # -> explore-1m-*.png

Serves the explorer on ``synthetic:N`` with the generator's own 2-D layout (a 1M UMAP layout
costs ~11 min of CPU; the verbs do not depend on the layout), clicks the row nearest the map's
centre (its neighbours, from the cached IVF index) and draws a box with the box select tool,
then runs 3 rounds of AnchorAL and the full pool (their stop lines and the random band), and
then labels two texts by hand, undoes one and shows the history; prints the server time of the
search, the selection's size, the stop lines and the history. ``ANCHORAL_CACHE_DIR``
keeps the vectors and the index between runs.
"""

from __future__ import annotations

import re
import sys
import time

import numpy as np

HISTORY_ONLY = False  # --history-only: only the hand-labelling part


def main(n, out):
    import panel as pn
    from playwright.sync_api import expect, sync_playwright

    from explorer.prepare import default_cache_dir
    from explorer.ui.app import ExplorerApp
    from explorer.ui.synthetic import synthetic_prepared

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    from tests.ui.conftest import (CHROMIUM, CHROMIUM_ARGS, _free_port, drawn_pixels,
                                   overlay_sizes, wait_until)
    from tests.ui.test_explore import _TO_PAGE_JS, box_select

    t0 = time.perf_counter()
    prepared = synthetic_prepared(n, projection="generated", cache_dir=default_cache_dir())
    print(f"pool ready in {time.perf_counter() - t0:.1f} s: {prepared.index.describe()}")
    apps = []

    def page_app():
        app = ExplorerApp(prepared, dataset=f"synthetic:{n}", datasets=[f"synthetic:{n}"])
        apps.append(app)
        return app.template()

    pn.extension(notifications=False, sizing_mode="stretch_width")
    port = _free_port()
    def hand_app():
        return ExplorerApp(prepared, dataset=f"synthetic:{n}", datasets=[f"synthetic:{n}"],
                           filters=["anchoral"], label_by_hand=True).template()

    server = pn.serve({"app": page_app, "hand": hand_app}, port=port, address="127.0.0.1", show=False,
                      threaded=True, start=True, websocket_origin=f"127.0.0.1:{port}")
    xy = prepared.coords
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(300_000)
        expect.set_options(timeout=300_000)
        if HISTORY_ONLY:
            _history(page, port, out)
            browser.close()
            server.stop()
            return
        page.goto(f"http://127.0.0.1:{port}/app")
        wait_until(lambda: drawn_pixels(page) > 2000, timeout=300, message="the map")
        card = page.locator(".anchoral-explore")
        expect(card.get_by_role("button", name="Search")).to_be_visible()
        centre = xy.mean(axis=0)
        row = int(np.argmin(((xy - centre) ** 2).sum(axis=1)))
        page.mouse.click(*page.evaluate(_TO_PAGE_JS, [float(xy[row, 0]), float(xy[row, 1])]))
        expect(card.get_by_text(re.compile(rf"nearest rows to row {row} "))).to_be_visible()
        res = apps[-1].explore.explore.result
        wait_until(lambda: overlay_sizes(page).get("Neighbours"), timeout=300,
                   message="the neighbours layer")
        page.mouse.move(5, 5)
        page.wait_for_timeout(500)
        print(f"click: row {row}, {len(res)} neighbours, server search {res.seconds * 1000:.1f} ms")
        page.screenshot(path=f"{out}-neighbours.png")
        lo, hi = np.percentile(xy, 40, axis=0), np.percentile(xy, 60, axis=0)
        box_select(page, lo, hi)
        expect(card.locator(".anchoral-selection-count")).to_contain_text("rows selected")
        wait_until(lambda: any(k.startswith("Selection") and v for k, v in
                               overlay_sizes(page).items()), timeout=300, message="selection")
        expect(card.get_by_role("button", name="Export CSV")).to_be_visible()
        page.mouse.move(5, 5)  # no hover tooltip over the map
        page.wait_for_timeout(500)  # the tooltip's fade (a screenshot, not a test)
        print("box:", len(apps[-1].explore.explore.selection), "rows selected")
        page.screenshot(path=f"{out}-selection.png")
        # when to stop, at 1M: three rounds of AnchorAL and the full pool, their stop lines
        page.get_by_label("Rounds (Run N)").fill("3")
        page.get_by_label("Rounds (Run N)").press("Enter")
        t1 = time.perf_counter()
        page.get_by_role("button", name="Run N rounds").click()
        done = page.get_by_text(re.compile(r"Done: 3 rounds in")).first
        expect(done).to_be_visible()
        print(f"3 rounds x 2 runs: {time.perf_counter() - t1:.1f} s in the page;", done.inner_text())
        for line in page.locator(".anchoral-stop-line").all_inner_texts():
            print("stop:", line.replace("\n", " "))
        page.mouse.move(5, 5)
        page.wait_for_timeout(1500)
        page.locator(".anchoral-curves").screenshot(path=f"{out}-stopping.png")
        _history(page, port, out)
        browser.close()
    server.stop()


def _history(page, port, out):
    """Who labelled what, at 1M: the hand-labelling route, then :func:`label_undo_history`."""
    from tests.ui.conftest import drawn_pixels, wait_until

    page.goto(f"http://127.0.0.1:{port}/hand")
    wait_until(lambda: drawn_pixels(page) > 2000, timeout=300, message="the map")
    label_undo_history(page, out)


def label_undo_history(page, out):
    """On a hand-labelling page: "ana" labels two texts, undoes the second; prints the history
    and saves the queue as ``{out}-history.png``."""
    from playwright.sync_api import expect

    name = page.get_by_label("Annotator")
    name.fill("ana")
    name.press("Enter")
    page.get_by_role("button", name="Step").click()
    header = page.locator(".anchoral-queue-header")
    expect(header).to_contain_text("1 of 25")
    page.keyboard.press("1")
    expect(header).to_contain_text("2 of 25")
    page.keyboard.press("2")
    expect(header).to_contain_text("3 of 25")
    page.get_by_role("button", name="↶ Undo").click()
    expect(header).to_contain_text("2 of 25")
    rows = page.get_by_role("table", name="History of this text").get_by_role("row")
    expect(rows).to_have_count(3)
    print("history:", " | ".join(rows.all_inner_texts()).replace("\n", " "))
    page.mouse.move(5, 5)
    page.wait_for_timeout(800)
    page.locator(".anchoral-queue").screenshot(path=f"{out}-history.png")


if __name__ == "__main__":
    HISTORY_ONLY = "--history-only" in sys.argv
    main(int(sys.argv[1]), sys.argv[2])
