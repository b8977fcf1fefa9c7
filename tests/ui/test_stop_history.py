"""When to stop, who labelled what, minority vs rest: the three verbs in a real browser."""

from __future__ import annotations

import os
import re
from pathlib import Path

from playwright.sync_api import expect

from .conftest import drawn_pixels, figures, wait_until

IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
#: set to write the screenshots the docs show (docs/img/)
SHOTS = os.environ.get("ANCHORAL_DOC_SHOTS") == "1"


def open_app(page, url, path="sample"):
    page.goto(f"{url}/{path}")
    expect(page.get_by_role("button", name="Step")).to_be_enabled()
    wait_until(lambda: drawn_pixels(page) > 2000, message="the map raster to draw")


def band(page):
    return [r for r in figures(page).get("minority-share", []) if r["name"] == "random sampling"]


def test_stop_lines_and_random_band_after_a_few_steps(page, app_url):
    open_app(page, app_url)
    lines = page.locator(".anchoral-stop-line")
    first = wait_until(lambda: band(page), message="the comparison plots to be built")
    assert len(first) == 1 and first[0]["n"] == 0  # one band, empty before a round
    page.get_by_label("Rounds (Run N)").fill("3")
    page.get_by_label("Rounds (Run N)").press("Enter")
    page.get_by_role("button", name="Run N rounds").click()
    expect(page.get_by_text(re.compile(r"Done: 3 rounds in"))).to_be_visible(timeout=120_000)
    expect(lines).to_have_count(2)  # one per run
    for k in range(2):
        expect(lines.nth(k)).to_contain_text(re.compile(
            r"round 3: (\d+ minority found in the last 3 rounds|no new minority for \d+ rounds: "
            r"consider stopping)"))
    expect(lines.first).to_contain_text("AnchorAL · entropy")
    expect(page.locator(".anchoral-stopping")).to_contain_text("what random sampling")
    got = wait_until(lambda: (b := band(page)) and b[0]["n"] == 4 and b,
                     message="the band over rounds 0..3")
    assert got[0]["glyph"] == "VArea" and len(got) == 1  # one glyph for every run
    if SHOTS:
        page.locator(".anchoral-curves").screenshot(path=str(IMG / "app-stopping.png"))
    assert page.js_errors == []


def test_label_by_hand_then_undo_and_the_history_shows_both(page, app_url):
    page.add_init_script("window.__xss = null;")
    page.goto(f"{app_url}/hostile-label")
    name = page.get_by_label("Annotator")
    name.fill("ana")
    name.press("Enter")
    page.get_by_role("button", name="Step").click()
    header = page.locator(".anchoral-queue-header")
    expect(header).to_contain_text("1 of 3")
    history = page.get_by_role("table", name="History of this text")
    expect(page.locator(".anchoral-history")).to_contain_text("no decision yet")
    undo = page.get_by_role("button", name="↶ Undo")
    expect(undo).to_be_disabled()
    page.get_by_role("button", name="1 · <b>ham</b>").click()
    expect(header).to_contain_text("2 of 3")
    expect(undo).to_be_enabled()
    undo.click()                                   # back on the first text, its label withdrawn
    expect(header).to_contain_text("1 of 3")
    expect(header).to_contain_text("(0 labelled)")
    rows = history.get_by_role("row")
    expect(rows).to_have_count(3)                  # the header, the label, the undo
    expect(rows.nth(1)).to_contain_text(re.compile(r"ana\s*labelled\s*<b>ham</b>"))
    expect(rows.nth(2)).to_contain_text(re.compile(r"ana\s*undone"))
    page.keyboard.press("2")                       # decided again (key 2): a new event
    page.get_by_role("button", name="← Back").click()
    expect(rows).to_have_count(4)
    expect(rows.nth(3)).to_contain_text(re.compile(r"ana\s*labelled\s*<img src=x"))
    assert page.evaluate("window.__xss") is None  # class names in the history stay text
    if SHOTS:
        page.locator(".anchoral-queue").screenshot(path=str(IMG / "app-history.png"))
    assert page.js_errors == []


def test_colouring_switch_minority_vs_rest(page, app_url):
    open_app(page, app_url)
    per_class = page.get_by_role("button", name="class", exact=True)
    vs_rest = page.get_by_role("button", name="minority vs rest")
    expect(per_class).to_have_class(re.compile(r"active"))  # 2 classes: per class by default
    legend = page.get_by_text(re.compile(r"^Pool by gold class"))
    expect(legend).not_to_contain_text("all other classes")
    before = drawn_pixels(page)
    vs_rest.click()
    expect(legend).to_contain_text("(all other classes: 1)")
    expect(vs_rest).to_have_class(re.compile(r"active"))
    wait_until(lambda: drawn_pixels(page) > 2000, message="the map redrawn")
    per_class.click()
    expect(legend).not_to_contain_text("all other classes")
    assert before > 2000 and page.js_errors == []
