"""Paired statistics of the paper benchmark (benchmarks/paper_stats.py), on hand-computed numbers."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from paper_stats import format_diff, paired_difference  # noqa: E402


def test_mean_difference_interval_and_t_test():
    # d = a - b = [2, 3, 2, 2, 4]: mean 2.6; squared deviations .36 .16 .36 .36 1.96 sum 3.2,
    # variance 3.2 / 4 = 0.8, sd 0.894427, se = sd / sqrt(5) = 0.4, t = 2.6 / 0.4 = 6.5.
    # t_{0.975, 4} = 2.776445 (table) -> half width 1.110578.
    r = paired_difference([3, 5, 4, 6, 7], [1, 2, 2, 4, 3])
    assert r["n"] == 5 and r["wins"] == 5 and r["losses"] == 0
    assert r["mean_a"] == pytest.approx(5.0) and r["mean_b"] == pytest.approx(2.4)
    assert r["mean_diff"] == pytest.approx(2.6)
    assert r["sd_diff"] == pytest.approx(math.sqrt(0.8))
    assert r["ci_low"] == pytest.approx(2.6 - 2.776445 * 0.4, abs=1e-6)
    assert r["ci_high"] == pytest.approx(2.6 + 2.776445 * 0.4, abs=1e-6)
    assert r["t"] == pytest.approx(6.5)
    # Student t with 4 df has the closed-form CDF F(t) = 1/2 + (3/4) x (1 - x^2 / 3),
    # x = t / sqrt(4 + t^2); two-sided p = 2 (1 - F(6.5)).
    x = 6.5 / math.sqrt(4 + 6.5 ** 2)
    assert r["p_t"] == pytest.approx(2 * (1 - (0.5 + 0.75 * x * (1 - x * x / 3))), rel=1e-9)


def test_wilcoxon_exact_p_values():
    # d = [1, 2, 3, 4, 5], all positive: W- = 0; of the 2^5 = 32 equally likely sign patterns
    # only "all +" gives W- = 0, so the two-sided exact p = 2 / 32 = 0.0625 (the floor at 5 seeds).
    r = paired_difference([2, 3, 4, 5, 6], [1, 1, 1, 1, 1])
    assert r["p_wilcoxon"] == pytest.approx(0.0625)
    # d = [-1, 2, 3, 4, 5]: W- = 1 (rank 1); patterns with W- <= 1 are {} and {1}: p = 2 * 2/32.
    r = paired_difference([0, 3, 4, 5, 6], [1, 1, 1, 1, 1])
    assert r["p_wilcoxon"] == pytest.approx(0.125)
    assert r["wins"] == 4 and r["losses"] == 1


def test_degenerate_inputs():
    # identical values: difference 0, no test possible
    r = paired_difference([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    assert r["mean_diff"] == 0 and r["sd_diff"] == 0
    assert math.isnan(r["p_t"]) and math.isnan(r["p_wilcoxon"])
    assert r["ci_low"] == 0 and r["ci_high"] == 0
    # a seed missing on one side (NaN) is dropped from the pairs
    r = paired_difference([1.0, float("nan"), 3.0], [0.0, 5.0, 1.0])
    assert r["n"] == 2 and r["mean_diff"] == pytest.approx(1.5)
    # one seed: a mean difference but no interval
    r = paired_difference([1.0], [0.25])
    assert r["n"] == 1 and r["mean_diff"] == pytest.approx(0.75) and math.isnan(r["ci_low"])
    assert format_diff(r) == "+0.750 (n=1)"


def test_format_and_errors():
    r = paired_difference([3, 5, 4, 6, 7], [1, 2, 2, 4, 3])
    assert format_diff(r, 2) == "+2.60 [+1.49, +3.71]"
    with pytest.raises(ValueError, match="aligned"):
        paired_difference([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="confidence=1.5 must be in"):
        paired_difference([1, 2], [1, 2], confidence=1.5)
