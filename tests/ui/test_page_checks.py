"""The page helpers of the browser tests can fail: a "nothing changed" check that cannot see
the map, or a page that errors, is a failure, never an empty answer that passes."""

import pytest
from playwright.sync_api import Error

from .conftest import figures, map_overlays, overlay_sizes, shown_curve_points


def test_a_nothing_changed_check_fails_on_a_page_without_the_map(page):
    page.set_content("<p>no map here</p>")
    assert overlay_sizes(page).get("Queried", 0) == 0  # what the old checks asked: passes
    with pytest.raises(AssertionError, match=r"waiting for the map's overlays"):
        map_overlays(page, timeout=1)
    with pytest.raises(AssertionError, match=r"waiting for minority-share with 2 runs' points"):
        shown_curve_points(page, "minority-share", runs=2, timeout=1)


def test_figures_raises_when_the_page_errors(page):
    page.set_content("<script>window.Bokeh = {documents: [null]}</script>")
    with pytest.raises(Error, match="TypeError"):
        figures(page)


def test_figures_raises_on_a_closed_page(browser):
    context = browser.new_context()
    pg = context.new_page()
    pg.close()
    with pytest.raises(Error, match="closed"):
        figures(pg)
    context.close()
