"""Paired comparison over seeds: mean difference, its 95 % t interval, paired t and Wilcoxon tests.

Runs that share a seed share the initial labelled set, the test split and every round's random
stream (:class:`explorer.experiment.Experiment`), so AnchorAL and a baseline are compared seed by seed:
``d_i = a_i - b_i``. With ``n`` seeds, mean ``d̄``, sample sd ``s`` (ddof 1):

* 95 % confidence interval ``d̄ ± t_{0.975, n-1} · s / √n`` (Student t);
* paired t-test ``t = d̄ / (s / √n)``, two-sided, ``n - 1`` degrees of freedom
  (``scipy.stats.ttest_rel``);
* Wilcoxon signed-rank test, two-sided, exact null distribution for small ``n``
  (``scipy.stats.wilcoxon``); with 5 seeds its smallest possible p-value is 2 / 32 = 0.0625, so
  it can never reach 0.05 — report it, but read it with that floor in mind.
"""

from __future__ import annotations

import math

import numpy as np


def paired_difference(a, b, confidence=0.95) -> dict:
    """Paired comparison of ``a`` and ``b`` (one value per seed, aligned).

    Parameters
    ----------
    a, b : sequences of float, same length n
        The two methods' values for the same seeds (e.g. AnchorAL's and SEALS's minority-F1 AUC).
    confidence : float in (0, 1)

    Returns
    -------
    dict with ``n``, ``mean_a``, ``mean_b``, ``mean_diff`` (a - b), ``sd_diff``, ``ci_low``,
    ``ci_high``, ``t``, ``p_t`` (paired t-test), ``p_wilcoxon`` (signed-rank; NaN when every
    difference is 0 or n < 2), ``wins`` (seeds with a > b), ``losses`` (a < b).
    """
    from scipy import stats

    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D and aligned, got shapes {a.shape} and {b.shape}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r} must be in (0, 1)")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    d = a - b
    n = len(d)
    out = {"n": n, "mean_a": float(a.mean()) if n else math.nan,
           "mean_b": float(b.mean()) if n else math.nan,
           "mean_diff": float(d.mean()) if n else math.nan, "sd_diff": math.nan,
           "ci_low": math.nan, "ci_high": math.nan, "t": math.nan, "p_t": math.nan,
           "p_wilcoxon": math.nan, "wins": int((d > 0).sum()), "losses": int((d < 0).sum())}
    if n < 2:
        return out
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    out.update(sd_diff=sd, ci_low=out["mean_diff"] - half, ci_high=out["mean_diff"] + half)
    if sd > 0:
        res = stats.ttest_rel(a, b)
        out.update(t=float(res.statistic), p_t=float(res.pvalue))
    elif out["mean_diff"] != 0:  # every seed differs by the same amount: no variance to test
        out.update(t=math.copysign(math.inf, out["mean_diff"]), p_t=0.0)
    if np.any(d != 0):
        out["p_wilcoxon"] = float(stats.wilcoxon(a, b).pvalue)
    return out


def format_diff(r, digits=3) -> str:
    """``+0.123 [+0.010, +0.236]`` (mean difference and its confidence interval)."""
    if r["n"] < 2 or math.isnan(r["ci_low"]):
        return f"{r['mean_diff']:+.{digits}f} (n={r['n']})"
    return f"{r['mean_diff']:+.{digits}f} [{r['ci_low']:+.{digits}f}, {r['ci_high']:+.{digits}f}]"
