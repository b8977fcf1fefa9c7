"""The Explore, stop, history and colouring verbs on WordNet, by hand (screenshots, not a test).

    anchoral fetch wordnet && anchoral prepare wordnet     # once: ~15 min of CPU here
    python tests/ui/shot_wordnet.py docs/img/wordnet       # -> docs/img/wordnet-*.png

Runs ``anchoral serve wordnet`` as a user would (4 filters; 45 classes, so the map is coloured
minority vs rest by default), then in Chromium: 3 rounds with "Run N rounds" (the page with its
stop lines and random band), a typed text's neighbours, a box selection; then a second server
with ``--label-by-hand``: an annotator labels two texts, undoes one and the history shows both.
Prints what the page said and the server time of the neighbour search.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.ui.conftest import overlay_sizes, wait_until  # noqa: E402
from tests.ui.measure_app import browser, open_map, serve  # noqa: E402
from tests.ui.shot_explore import label_undo_history  # noqa: E402
from tests.ui.test_explore import _TO_PAGE_JS, box_select  # noqa: E402


def quiet(page):
    page.mouse.move(5, 5)  # no hover tooltip over the map
    page.wait_for_timeout(800)


def simulate(pw, out):
    from playwright.sync_api import expect

    from explorer.prepare import prepare

    coords = np.asarray(prepare("wordnet", progress=False).coords)
    proc, url, t = serve("wordnet", "--filters", "anchoral,full,randsub,seals")
    print(f"server listening after {t:.1f} s")
    try:
        page = browser(pw).new_page(viewport={"width": 1500, "height": 1300})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(600_000)
        expect.set_options(timeout=600_000)
        print(f"map drawn {open_map(page, url):.1f} s after navigation")
        legend = page.get_by_text(re.compile(r"^Pool by gold class")).first
        print("legend:", legend.inner_text()[:200].replace("\n", " "))
        page.get_by_label("Rounds (Run N)").fill("3")
        page.get_by_label("Rounds (Run N)").press("Enter")
        t0 = time.perf_counter()
        page.get_by_role("button", name="Run N rounds").click()
        expect(page.get_by_text(re.compile(r"Done: 3 rounds in"))).to_be_visible()
        print(f"3 rounds x 4 runs: {time.perf_counter() - t0:.1f} s;",
              page.get_by_text(re.compile(r"Done: 3 rounds in")).first.inner_text())
        for line in page.locator(".anchoral-stop-line").all_inner_texts():
            print("stop:", line.replace("\n", " "))
        quiet(page)
        page.screenshot(path=f"{out}-3-rounds.png")
        card = page.locator(".anchoral-explore")
        box = card.get_by_role("textbox").first
        box.fill("a feeling of deep sadness and regret")
        box.press("Enter")
        expect(card.locator("ol.anchoral-neighbours li")).to_have_count(10)
        print("neighbours:", card.locator("ol.anchoral-neighbours").inner_text()[:600]
              .replace("\n", " | "))
        wait_until(lambda: overlay_sizes(page).get("Neighbours"), timeout=300,
                   message="the neighbours layer")
        quiet(page)
        page.screenshot(path=f"{out}-neighbours.png")
        lo, hi = np.percentile(coords, 45, axis=0), np.percentile(coords, 55, axis=0)
        box_select(page, lo, hi)
        count = card.locator(".anchoral-selection-count")
        expect(count).to_contain_text("rows selected")
        print("selection:", count.inner_text().replace("\n", " "))
        expect(card.get_by_role("button", name="Export CSV")).to_be_visible()
        quiet(page)
        page.screenshot(path=f"{out}-selection.png")
        print("page errors:", errors)
    finally:
        proc.terminate()
        proc.wait()


def by_hand(pw, out):
    from playwright.sync_api import expect

    proc, url, _ = serve("wordnet", "--label-by-hand", "--filters", "anchoral")
    try:
        page = browser(pw).new_page(viewport={"width": 1500, "height": 1300})
        page.set_default_timeout(600_000)
        expect.set_options(timeout=600_000)
        open_map(page, url)
        label_undo_history(page, out)
    finally:
        proc.terminate()
        proc.wait()


def main(out):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        simulate(pw, out)
        by_hand(pw, out)


if __name__ == "__main__":
    main(sys.argv[1])
