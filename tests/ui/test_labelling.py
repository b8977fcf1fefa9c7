"""Labelling in a real browser: annotate mode by clicks and keys, sessions that survive a kill."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import (_free_port, drawn_pixels, overlay_sizes, serve_session_cli,
                       told_on_failure, wait_until)

ROOT = Path(__file__).resolve().parents[2]


def queue_header(page):
    return page.locator(".anchoral-queue-header")


def test_annotate_mode_label_a_batch_by_clicking_then_next_round(page, app_url):
    page.goto(f"{app_url}/annotate")
    # annotate data: the first batch is proposed on load and shown on the map as in simulation
    expect(queue_header(page)).to_contain_text("Label round 1")
    expect(queue_header(page)).to_contain_text("1 of 10")
    wait_until(lambda: drawn_pixels(page) > 2000, message="the map raster to draw")
    sizes = wait_until(lambda: (s := overlay_sizes(page)).get("Queried") and s, message="overlays")
    assert sizes["Queried"] == 10 and sizes["Anchors"] > 0 and sizes["Subpool"] > 0, sizes
    ham = page.get_by_role("button", name="1 · ham")
    spam = page.get_by_role("button", name="2 · spam")
    for k in range(10):
        expect(queue_header(page)).to_contain_text(f"{k + 1} of 10")
        if k == 3:
            page.keyboard.press("s")          # keyboard: skip
        elif k == 4:
            page.keyboard.press("2")          # keyboard: spam
        else:
            (spam if k % 3 == 0 else ham).click()
    # the batch commits, the model retrains, and round 2's batch appears (map and queue)
    expect(queue_header(page)).to_contain_text("Label round 2", timeout=120_000)
    expect(queue_header(page)).to_contain_text("1 of 10")
    expect(page.get_by_text(re.compile(r"Round 1 saved \(10 labels\)"))).to_be_visible()
    wait_until(lambda: overlay_sizes(page).get("Labelled (fill: class)", 0) >= 20 + 9,
               message="round 1's labels in the labelled overlay")
    assert overlay_sizes(page)["Queried"] == 10
    assert page.js_errors == []


def test_hand_labelling_escapes_hostile_text_and_shows_agreement(page, app_url):
    page.add_init_script("window.__xss = null;")
    page.goto(f"{app_url}/hostile-label")
    page.get_by_role("button", name="Step").click()
    expect(queue_header(page)).to_contain_text("1 of 3")
    box = page.locator(".anchoral-queue-text")
    expect(box).to_contain_text(re.compile(r"<script>|<img src=x|<svg onload|<b>bold</b>"))
    button = page.get_by_role("button", name="1 · <b>ham</b>")
    for _ in range(3):
        button.click()
    expect(page.get_by_text(re.compile(r"Agreement with gold: \d+%"))).to_be_visible()
    expect(queue_header(page)).to_contain_text("Label round 2", timeout=120_000)
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    assert page.js_errors == []


def serve(session, port):
    """``anchoral serve sample --session DIR --label-by-hand`` as a user starts it."""
    return serve_session_cli(session, port, "--label-by-hand")


def test_session_survives_kill_and_resumes_with_labels_intact(page, tmp_path, missing):
    if not (ROOT / "sample_data" / "embeddings.npy").exists():
        missing("needs the shipped sample vectors (sample_data/embeddings.npy)")
    session = tmp_path / "session"
    port = _free_port()
    proc = serve(session, port)
    try:
        page.goto(f"http://127.0.0.1:{port}/")
        expect(queue_header(page)).to_contain_text("Label round 1")
        ham = page.get_by_role("button", name="1 · ham")
        for _ in range(25):  # a whole batch: committed and saved
            ham.click()
        expect(queue_header(page)).to_contain_text("Label round 2", timeout=120_000)
        for k in range(3):   # three labels of the next batch: pending, saved at once
            expect(queue_header(page)).to_contain_text(f"{k + 1} of 25")
            page.keyboard.press("2")
        expect(queue_header(page)).to_contain_text("4 of 25")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    from explorer.store import read_labels

    labels = read_labels(session)
    assert len(labels) == 25 and set(labels["label"]) == {"ham"}
    assert set(labels["source"]) == {"human"}

    proc = serve(session, port := _free_port())
    try:
        with told_on_failure(proc, page):
            page.goto(f"http://127.0.0.1:{port}/")
            expect(queue_header(page)).to_contain_text("Label round 2", timeout=120_000)
            expect(queue_header(page)).to_contain_text("4 of 25")  # 3 pending labels kept
            expect(page.get_by_text(re.compile(r"3 of 25 labels of round 2 were kept"))
                   ).to_be_visible()
            expect(page.get_by_text(re.compile(r"round 1 of 1$"))).to_have_count(0)
            page.get_by_role("slider").focus()
            page.get_by_role("slider").press("ArrowLeft")
            expect(page.get_by_text(re.compile(r"round 1 of 1$"))).to_be_visible()
            assert page.js_errors == []
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
