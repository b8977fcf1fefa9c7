"""The explorer inline in a real JupyterLab 4 and Notebook 7, in Chromium, with no network.

A Jupyter server (``python -m jupyterlab``: token off, loopback, a temporary root directory
holding a copy of ``docs/notebooks/explorer.ipynb``; ``--allow-root`` when run as root, as CI
is) serves the shipped notebook; the page runs every cell from the Run menu, as a person would.
Every request that leaves 127.0.0.1 is refused and recorded: the app must draw without one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, _free_port, drawn_pixels, wait_until

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebooks" / "explorer.ipynb"


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    """Base URL of a JupyterLab server (with Notebook 7's pages) over a copy of the notebook."""
    import jupyterlab  # noqa: F401  (the test extra installs it: a missing one fails here)
    import notebook  # noqa: F401

    root = tmp_path_factory.mktemp("jupyter-root")
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    home = tmp_path_factory.mktemp("jupyter-home")
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
           "--IdentityProvider.token=", "--ServerApp.password=",
           "--ServerApp.port_retries=0", "--ServerApp.disable_check_xsrf=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "rt"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"))
    # start the notebook's kernel without asking which; every cell in the page (JupyterLab's
    # default windowing leaves cells far below the view out of the page, and the apps are tall)
    settings = home / "lab-settings" / "@jupyterlab"
    (settings / "notebook-extension").mkdir(parents=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        '{"autoStartDefaultKernel": true, "windowingMode": "none"}')
    log = home / "jupyter.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status", timeout=10).read()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"jupyter lab did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.3)
    yield base
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(log, ARTIFACTS / "jupyter.log")


def _offline(page) -> list:
    """Refuse (and record) every request that leaves this machine's loopback."""
    refused = []

    def route(r):
        url = r.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            refused.append(url)
            r.abort()

    page.route("**/*", route)
    return refused


def _title(page, text):
    """The inline map's title line (``map_title``), matched whole."""
    return page.get_by_text(re.compile(re.escape(text) + "$"))


def _run_all(page, attempts=4):
    """Run → Run All Cells; again when the first code cell did not start (a Run All given
    while the kernel was still connecting is dropped by the client; nothing ran then)."""
    prompt = page.locator(".jp-CodeCell .jp-InputPrompt").first
    for _ in range(attempts):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            wait_until(lambda: prompt.inner_text().strip() not in ("", "[ ]:"), timeout=30,
                       message="the first cell to start")
            return
        except AssertionError:
            continue
    raise AssertionError("Run All Cells never started the first cell")


def _idle(page, timeout=240):
    """Wait until the kernel has run every queued cell (the toolbar's execution indicator)."""
    indicator = page.locator(".jp-Notebook-ExecutionIndicator").first
    wait_until(lambda: indicator.get_attribute("data-status") == "idle", timeout=timeout,
               message="the kernel to be idle")


def _run_new_cell(page, code):
    """Add a code cell at the end of the notebook, type ``code`` and run it."""
    last = page.locator(".jp-Notebook .jp-Cell").last
    last.locator(".jp-InputPrompt").click()      # select the last cell (command mode)
    page.keyboard.press("Escape")
    page.keyboard.press("b")                        # a new cell below, selected
    page.keyboard.press("Enter")                    # edit it
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")


@pytest.mark.parametrize("client", ["lab", "notebooks"])
def test_the_shipped_notebook_runs_live_inline(jupyter, page, client):
    """Run All in the real client: the inline app draws its map offline, shows the rounds run
    by code (``app.state.step()``, ``app.state.round = 1``), and its own Step button runs a
    round in the kernel that the inline view then shows."""
    from playwright.sync_api import expect

    refused = _offline(page)
    # Notebook 7's page is /notebooks/NAME, JupyterLab's /lab/tree/NAME
    path = "lab/tree" if client == "lab" else "notebooks"
    page.goto(f"{jupyter}/{path}/{NOTEBOOK.name}")
    expect(page.locator(".jp-Notebook")).to_be_visible(timeout=120_000)
    _idle(page)
    # Notebook 7.6 itself throws two errors while its page loads (a settings schema, the
    # file browser's open-path command), before any cell runs; none may come after
    baseline = list(page.js_errors)
    if client == "lab":
        assert baseline == []
    _run_all(page)

    # the round run by code before the display, in each app's own session
    expect(_title(page, "AnchorAL · entropy, round 1 of 1")).to_be_visible(timeout=240_000)
    expect(_title(page, "SEALS · entropy, round 1 of 1")).to_be_visible(timeout=240_000)
    _idle(page)
    wait_until(lambda: drawn_pixels(page, ".anchoral-map") > 2_000, timeout=120,
               message="the inline map's pixels")

    # the inline Step button of the first app: a round computed in the kernel, shown inline
    page.get_by_role("button", name="Step", exact=True).first.click()
    expect(_title(page, "AnchorAL · entropy, round 2 of 2")).to_be_visible(timeout=240_000)

    # code drives the same view: a Step, then a replayed round (each cell of its own)
    _run_new_cell(page, "app.state.step();")
    expect(_title(page, "AnchorAL · entropy, round 3 of 3")).to_be_visible(timeout=240_000)
    _idle(page)
    _run_new_cell(page, "app.state.round = 1")
    expect(_title(page, "AnchorAL · entropy, round 1 of 3")).to_be_visible(timeout=120_000)
    # the second app did not move
    expect(_title(page, "SEALS · entropy, round 1 of 1")).to_be_visible()

    assert page.js_errors[len(baseline):] == []
    assert refused == [], f"requests that left the machine: {refused[:5]}"
    if client == "lab":  # kept for a person to look at (docs/img has the reviewed copy)
        title = _title(page, "AnchorAL · entropy, round 1 of 3")
        title.scroll_into_view_if_needed()
        page.mouse.move(700, 500)
        page.mouse.wheel(0, -260)  # the buttons above the map into view too
        page.wait_for_timeout(500)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "jupyterlab-inline.png"))
