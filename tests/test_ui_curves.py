"""The comparison plots' axes: whole rounds only, and log axes whose labels do not crowd."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from bokeh.models import (BasicTicker, CustomJSTicker, NumeralTickFormatter,
                          PrintfTickFormatter)

from explorer.ui.curves import LOG_TICKS_JS, PLOTS, CurvesView
from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import synthetic_prepared

sys.path.insert(0, str(Path(__file__).parent / "ui"))
from fakes import FakeDriver  # noqa: E402


@pytest.fixture(scope="module")
def figures():
    st = ExplorerState(synthetic_prepared(600, dim=8, minority_share=0.1, projection="generated"),
                       experiment_factory=FakeDriver)
    view = CurvesView(state=st)
    view.__panel__()  # the stop lines over one grid of the figures
    return view.figures()


@pytest.mark.parametrize("name", [n for n, (_, x, _, _) in PLOTS.items() if x == "round"])
def test_an_axis_over_rounds_ticks_whole_rounds_only(figures, name):
    (ticker,) = {axis.ticker for axis in figures[name].xaxis}
    assert isinstance(ticker, BasicTicker)
    assert ticker.min_interval == 1 and ticker.num_minor_ticks == 0


@pytest.mark.parametrize("name", [n for n, (*_, axis) in PLOTS.items()
                                  if axis.get("y_axis_type") == "log"])
def test_a_log_axis_ticks_1_2_5_per_decade(figures, name):
    (ticker,) = {axis.ticker for axis in figures[name].yaxis}
    assert isinstance(ticker, CustomJSTicker) and ticker.major_code == LOG_TICKS_JS
    # labelled plainly ("0.02", "2,000"), not "2.000e-2"
    (formatter,) = {axis.formatter for axis in figures[name].yaxis}
    assert isinstance(formatter, (NumeralTickFormatter, PrintfTickFormatter))


def test_both_kinds_of_axis_are_there():
    """The parametrized tests above cover something."""
    assert any(x == "round" for _, x, _, _ in PLOTS.values())
    assert sum(axis.get("y_axis_type") == "log" for *_, axis in PLOTS.values()) >= 2


def test_every_legend_entry_has_a_row_to_draw_its_sample_from(figures):
    """BokehJS draws a legend entry's line or marker sample from its renderer's first row: a
    stand-in over an empty source leaves the entry blank (seen in a screenshot). Each entry's
    renderers hold one row, at NaN (drawn nowhere on the plot)."""
    import math

    from bokeh.models import Legend

    legends = [item for fig in figures.values() for item in fig.center
               if isinstance(item, Legend)]
    assert legends, "the minority-share plot has a legend"
    entries = [r for legend in legends for item in legend.items for r in item.renderers]
    assert len(entries) >= 2  # the runs and the random-sampling band
    for r in entries:
        data = r.data_source.data
        assert len(data["x"]) == 1 and math.isnan(data["x"][0]) and math.isnan(data["y"][0])


def test_padded_range_pads_like_bokeh_and_keeps_fixed_ends():
    import math

    from explorer.ui.curves import padded_range

    assert padded_range([np.array([1.0, 3.0])]) == pytest.approx((0.9, 3.1))  # 5 % a side
    assert padded_range([np.array([2.0, np.nan])]) == pytest.approx((1.5, 2.5))  # one value
    assert padded_range([np.array([0.1, 0.3])], start=0.0) == pytest.approx((0.0, 0.315))
    assert padded_range([np.array([0.5])], start=0.0, end=1.02) == (0.0, 1.02)
    lo, hi = padded_range([np.array([0.0, 1e-3, 1e-1])], log=True)  # 0 has no place on a log axis
    assert math.log10(lo) == pytest.approx(-3.1) and math.log10(hi) == pytest.approx(-0.9)
    assert padded_range([np.array([np.nan])]) is None and padded_range([]) is None
    assert padded_range([np.array([0.0])], log=True) is None
