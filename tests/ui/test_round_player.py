"""The map's round player by name (a screen reader and a test find its buttons), and an idle
page that keeps the header's busy indicator idle."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import curve_points, wait_until
from .test_app import open_app, step

_UNNAMED_BUTTONS_JS = """() => {
  const out = [];
  const walk = (root) => {
    for (const b of root.querySelectorAll("button, [role=button]")) {
      const name = (b.getAttribute("aria-label") || b.title || b.textContent || "").trim();
      if (!name && b.offsetParent !== null) out.push(b.outerHTML.slice(0, 120));
    }
    for (const e of root.querySelectorAll("*")) if (e.shadowRoot) walk(e.shadowRoot);
  };
  walk(document);
  return out;
}"""


def test_the_round_player_is_driven_by_named_buttons(page, app_url):
    open_app(page, app_url)
    previous = page.get_by_role("button", name="Previous round", exact=True)
    following = page.get_by_role("button", name="Next round", exact=True)
    play = page.get_by_role("button", name="Play rounds", exact=True)
    expect(previous).to_be_disabled()  # no rounds yet
    expect(play).to_be_disabled()
    step(page, 1)
    step(page, 2)
    expect(following).to_be_disabled()  # the newest round is shown
    previous.click()
    expect(page.get_by_text(re.compile(r"round 1 of 2$"))).to_be_visible()
    following.click()
    expect(page.get_by_text(re.compile(r"round 2 of 2$"))).to_be_visible()
    play.click()  # from the start: the initial set, round 1, round 2, and it stops
    expect(page.get_by_text("Initial labelled set", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"round 1 of 2$"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"round 2 of 2$"))).to_be_visible()
    expect(play).not_to_have_class(re.compile("bk-active"))
    expect(following).to_be_disabled()
    unnamed = page.evaluate(_UNNAMED_BUTTONS_JS)
    assert not [b for b in unnamed if re.search(r'class="(slower|first|previous|reverse|pause|'
                                                r'play|next|last|faster)"', b)], unnamed
    assert page.js_errors == []


def test_an_idle_page_runs_no_periodic_work(page, app_url, monkeypatch):
    """A callback every second on every page kept the header's busy indicator (Panel's busy
    state, shared by the whole server) turning on once a second while nothing ran."""
    import panel as pn

    periodic = []
    add = pn.state.add_periodic_callback
    monkeypatch.setattr(pn.state, "add_periodic_callback",
                        lambda *a, **k: periodic.append((a, k)) or add(*a, **k))
    open_app(page, app_url)
    # the deferred parts of the page are built too: both runs' curves are there
    wait_until(lambda: len(curve_points(page, "minority-share")) == 2, timeout=120,
               message="the comparison curves")
    assert periodic == []
