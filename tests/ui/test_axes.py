"""The log axes' ticker (curves.LOG_TICKS_JS) run in Chromium: 1-2-5 ticks that never crowd."""

import math

import pytest

from explorer.ui.curves import LOG_TICKS_JS

#: (start, end) of a log axis: the reported one first (a full-pool run at 0.04 s beside
#: AnchorAL at ~5 ms; Bokeh printed 0.04, 0.035, 0.03, 0.025 on top of one another)
RANGES = [(0.004, 0.045), (0.025, 0.04), (0.0201, 0.0299), (1e-6, 0.05), (3e-7, 200.0),
          (120.0, 3400.0), (900.0, 1_000_000.0), (0.5, 0.6), (0.045, 0.004)]


def ticks(page, start, end):
    return page.evaluate(f"(cb_data) => {{ {LOG_TICKS_JS} }}", {"start": start, "end": end})


@pytest.mark.parametrize("start, end", RANGES)
def test_log_ticks_are_few_apart_and_inside_the_range(page, start, end):
    lo, hi = sorted((start, end))
    t = ticks(page, start, end)
    assert 1 <= len(t) <= 7, t
    assert t == sorted(t) and all(lo <= v <= hi for v in t), t
    if len(t) > 1:
        gaps = [math.log10(b / a) for a, b in zip(t, t[1:])]
        # the axis spans log10(hi / lo) decades; each gap >= 1/8 of it: labels never overlap
        assert min(gaps) >= math.log10(hi / lo) / 8, (t, gaps)
    assert all(len(f"{v:g}") <= 6 for v in t), t  # short labels: 1-2-5 or two digits


def test_the_reported_range_shows_round_numbers(page):
    assert ticks(page, 0.004, 0.045) == [0.005, 0.01, 0.02]


def test_no_ticks_for_a_range_a_log_axis_cannot_show(page):
    assert ticks(page, 0.0, 1.0) == []
