"""When to stop: minority found lately, the share random sampling would give, a stopping signal.

Pure functions over a rounds table (``Experiment.rounds_frame()``, a session's or ``anchoral
simulate``'s ``rounds.parquet``, or the app's records): no Panel, no experiment object, so a
notebook, the CLI and the app read the same numbers. :func:`add_stopping_columns` adds
:data:`STOP_COLUMNS` to a rounds table, run by run:

``minority_found_last_n``
    Minority rows the run labelled in its last ``window`` rounds (round 0, the initial set, never
    counts).
``rounds_without_minority``
    Consecutive rounds, ending at this one, whose batch held no minority row.
``stop_signal``
    ``rounds_without_minority >= patience``: the signal a practitioner would use ("no new
    minority in K consecutive rounds"). It assumes the strategy keeps looking where minority rows
    are likely: a run that never finds one from round 1 on stops after ``patience`` rounds too.
``random_expected_minority_share``, ``random_share_lo``, ``random_share_hi``
    What random sampling would have given: the same initial set, then as many rows drawn at
    random, without replacement, from the unlabelled pool the first round chose from. The count
    of minority rows drawn is hypergeometric (:func:`random_band`); lo/hi are its ``q`` quantiles
    (default 5 % and 95 %). Needs the pool's gold labels: NaN in annotate mode.
``minority_left``
    Minority rows (gold labels) still unlabelled after the round: NaN in annotate mode.
``minority_left_estimate``
    The removal (Leslie depletion) estimate of the same number from the run's catches only, no
    gold label needed (:func:`removal_estimate`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._validation import check_int
from .exceptions import ParameterError

#: rounds counted by ``minority_found_last_n``
WINDOW = 5
#: consecutive rounds without a new minority row that raise ``stop_signal``
PATIENCE = 5
#: the quantiles of the random-sampling band
BAND = (0.05, 0.95)
#: the columns :func:`add_stopping_columns` adds to a rounds table
STOP_COLUMNS = ["minority_found_last_n", "rounds_without_minority", "stop_signal",
                "random_expected_minority_share", "random_share_lo", "random_share_hi",
                "minority_left", "minority_left_estimate"]
_NEEDED = ["round", "n_labelled", "n_minority"]
#: a removal line flatter than this (catch per query per row caught) counts as flat
_FLAT = 1e-12
#: the fewest minority rows caught before a removal estimate is given: a line through one or two
#: catches says nothing (a run that found 1 then 0 then 0 would "leave 0" in a pool of 1,941)
MIN_CAUGHT = 10


def minority_found(n_minority) -> np.ndarray:
    """Minority rows each round added: ``n_minority[r] - n_minority[r - 1]``, 0 for round 0.

    Parameters
    ----------
    n_minority : array of int, shape (n_rounds,)
        Minority rows in the labelled set after each round, round 0 first.

    Returns
    -------
    ndarray of int64, shape (n_rounds,)
    """
    n = np.asarray(n_minority, np.int64)
    return np.diff(n, prepend=n[:1]) if len(n) else n


def found_last_n(found, window=WINDOW) -> np.ndarray:
    """Sum of ``found`` over each round and the ``window - 1`` before it.

    >>> found_last_n([0, 1, 0, 2, 0], window=2).tolist()
    [0, 1, 1, 2, 2]
    """
    window = check_int("window", window)
    found = np.asarray(found, np.int64)
    c = np.concatenate([[0], np.cumsum(found)])
    i = np.arange(1, len(found) + 1)
    return c[i] - c[np.maximum(i - window, 0)]


def rounds_without(found) -> np.ndarray:
    """Consecutive rounds without a new minority row, ending at each round (round 0: 0).

    >>> rounds_without([0, 1, 0, 0, 3, 0]).tolist()
    [0, 0, 1, 2, 0, 1]
    """
    out = np.zeros(len(found), np.int64)
    for r in range(1, len(found)):
        out[r] = 0 if found[r] > 0 else out[r - 1] + 1
    return out


def random_band(n_drawn, pool_size, pool_minority, q=BAND):
    """Minority rows among ``n_drawn`` rows drawn at random without replacement from a pool.

    The count is hypergeometric: ``pool_size`` rows of which ``pool_minority`` are minority.

    Parameters
    ----------
    n_drawn : array of int
        Rows drawn (clipped to ``[0, pool_size]``).
    pool_size, pool_minority : int
    q : (float, float)
        The band's quantiles.

    Returns
    -------
    (expected, lo, hi) : three float arrays shaped like ``n_drawn``
        ``n_drawn * pool_minority / pool_size`` and the two quantiles of the count.
    """
    from scipy.stats import hypergeom

    pool_size = check_int("pool_size", pool_size, 1)
    pool_minority = check_int("pool_minority", pool_minority, 0)
    if pool_minority > pool_size:
        raise ParameterError(f"pool_minority={pool_minority} is larger than pool_size="
                             f"{pool_size}; a pool holds at most pool_size minority rows")
    lo_q, hi_q = (float(v) for v in q)
    if not 0 <= lo_q <= hi_q <= 1:
        raise ParameterError(f"q={tuple(q)} must be two quantiles 0 <= lo <= hi <= 1, "
                             "e.g. (0.05, 0.95)")
    n = np.clip(np.asarray(n_drawn, np.int64), 0, pool_size)
    dist = hypergeom(pool_size, pool_minority, n)
    expected = n * (pool_minority / pool_size)
    return expected.astype(float), dist.ppf(lo_q).astype(float), dist.ppf(hi_q).astype(float)


def removal_estimate(found, effort) -> float:
    """Minority rows left in the pool, by the removal (Leslie depletion) method.

    Each round removes ``found[i]`` minority rows with ``effort[i]`` queries. If every minority
    row left in the pool has the same chance per query of being picked in every round (constant
    catchability), the catch per query falls in a straight line with the minority already
    caught: ``found[i] / effort[i] = k * (N0 - caught before i)``. A least-squares line through
    the rounds gives ``N0`` (its zero) and the estimate is ``N0 - sum(found)``.

    Assumptions, to read the number with: the pool is closed (no rows added), queries are the
    effort (equal batches weigh equally), and catchability is constant. Active learning breaks
    the last one (the model learns where minority rows are, then exhausts them), so read the
    estimate as a trend, not a count; in simulation ``minority_left`` gives the truth next to it.

    Parameters
    ----------
    found, effort : array of int, shape (n_rounds,)
        Minority rows found and rows queried per round (round 0 excluded).

    Returns
    -------
    float
        ``>= 0``; NaN with fewer than 3 rounds with effort, fewer than :data:`MIN_CAUGHT`
        minority rows caught, or when the catch per query does not fall (no depletion seen yet).

    Examples
    --------
    100 queries a round catch 25, 20 and 16: catch per query 0.25, 0.20, 0.16 after 0, 25 and
    45 caught, the line ``0.25 - 0.002 x``, zero at 125; 61 were caught, so 64 are left.

    >>> round(removal_estimate([25, 20, 16], [100, 100, 100]), 6)
    64.0
    """
    found = np.asarray(found, float)
    effort = np.asarray(effort, float)
    ok = effort > 0
    if ok.sum() < 3 or found[ok].sum() < MIN_CAUGHT:
        return float("nan")
    before = (np.cumsum(found) - found)[ok]
    cpue = found[ok] / effort[ok]
    if np.ptp(before) == 0:
        return float("nan")
    slope, intercept = np.polyfit(before, cpue, 1)
    if not slope < -_FLAT:  # a flat line (up to rounding) says nothing about depletion
        return float("nan")
    return float(max(-intercept / slope - found.sum(), 0.0))


def removal_estimates(found, effort) -> np.ndarray:
    """:func:`removal_estimate` after each round, from running sums (one pass, not one fit per
    round): ``out[r]`` uses rounds ``0..r`` of ``found`` and ``effort``.

    >>> removal_estimates([25, 20, 16], [100, 100, 100]).round(6).tolist()
    [nan, nan, 64.0]
    """
    found = np.asarray(found, float)
    effort = np.asarray(effort, float)
    ok = effort > 0
    x = np.where(ok, np.cumsum(found) - found, 0.0)
    y = np.where(ok, found / np.where(ok, effort, 1.0), 0.0)
    n = np.cumsum(ok)
    sx, sy = np.cumsum(x), np.cumsum(y)
    sxx, sxy = np.cumsum(x * x), np.cumsum(x * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        den = n * sxx - sx * sx
        slope = (n * sxy - sx * sy) / den
        intercept = (sy - slope * sx) / n
        n0 = -intercept / slope
    # the same guard as one fit: 3 rounds, x not all equal (relative to its scale), falling line
    spread = den > 1e-9 * np.maximum(n * sxx, 1.0)
    good = (n >= 3) & spread & (slope < -_FLAT) & (np.cumsum(np.where(ok, found, 0)) >= MIN_CAUGHT)
    return np.where(good, np.maximum(n0 - np.cumsum(found), 0.0), np.nan)


def _run_columns(df, window, patience, q, pool_size, pool_minority):
    df = df.sort_values("round")
    found = minority_found(df["n_minority"].to_numpy())
    n_lab = df["n_labelled"].to_numpy(np.int64)
    out = pd.DataFrame(index=df.index)
    out["minority_found_last_n"] = found_last_n(found, window)
    without = rounds_without(found)
    out["rounds_without_minority"] = without
    out["stop_signal"] = without >= patience
    n0, m0 = int(n_lab[0]), int(df["n_minority"].iloc[0])
    size, k = pool_size, pool_minority
    if size is None:  # the pool the first round chose from, as the table recorded it
        first = df[df["round"] >= 1]
        if len(first) and "n_unlabelled" in df and "pool_minority_share" in df:
            size = int(first["n_unlabelled"].iloc[0])
            share = float(first["pool_minority_share"].iloc[0])
            k = None if np.isnan(share) else int(round(share * size))
    nan = np.full(len(df), np.nan)
    if size and k is not None:
        exp_, lo, hi = random_band(n_lab - n0, size, k, q)
        denom = np.maximum(n_lab, 1)
        out["random_expected_minority_share"] = (m0 + exp_) / denom
        out["random_share_lo"] = (m0 + lo) / denom
        out["random_share_hi"] = (m0 + hi) / denom
        out["minority_left"] = (k - np.cumsum(found)).astype(float)
    else:
        for c in ("random_expected_minority_share", "random_share_lo", "random_share_hi",
                  "minority_left"):
            out[c] = nan
    effort = (df["n_queried"].to_numpy(np.int64) if "n_queried" in df
              else np.diff(n_lab, prepend=n_lab[:1]))
    out["minority_left_estimate"] = np.r_[np.nan, removal_estimates(found[1:], effort[1:])]
    return out


def add_stopping_columns(rounds, window=WINDOW, patience=PATIENCE, q=BAND, pool_size=None,
                         pool_minority=None) -> pd.DataFrame:
    """The rounds table with :data:`STOP_COLUMNS` added, computed run by run.

    Parameters
    ----------
    rounds : DataFrame
        A rounds table: ``round``, ``n_labelled``, ``n_minority`` (and ``run``, ``n_queried``,
        ``n_unlabelled``, ``pool_minority_share`` when present). Old ``rounds.parquet`` files
        have every column this needs.
    window : int, default :data:`WINDOW`
        Rounds counted by ``minority_found_last_n``.
    patience : int, default :data:`PATIENCE`
        Rounds without a new minority row that raise ``stop_signal``.
    q : (float, float), default :data:`BAND`
        Quantiles of the random-sampling band.
    pool_size, pool_minority : int, optional
        The unlabelled pool (and its minority rows) the first round chose from; read from the
        table's ``n_unlabelled`` and ``pool_minority_share`` of round 1 when not given.

    Returns
    -------
    DataFrame
        A copy of ``rounds`` in the same row order, with the columns (replaced if present).
    """
    window = check_int("window", window)
    patience = check_int("patience", patience)
    missing = [c for c in _NEEDED if c not in rounds.columns]
    if missing:
        raise ParameterError(f"the rounds table lacks column(s) {', '.join(missing)}; give a "
                             "rounds table (Experiment.rounds_frame() or rounds.parquet)")
    out = rounds.drop(columns=[c for c in STOP_COLUMNS if c in rounds.columns])
    if not len(out):
        for c in STOP_COLUMNS:
            out[c] = pd.Series(dtype=bool if c == "stop_signal" else
                               "int64" if c in STOP_COLUMNS[:2] else float)
        return out
    groups = out.groupby("run", sort=False) if "run" in out else [(None, out)]
    parts = [_run_columns(g, window, patience, q, pool_size, pool_minority) for _, g in groups]
    return out.join(pd.concat(parts))


def stopping_summary(rounds, window=WINDOW, patience=PATIENCE) -> pd.DataFrame:
    """One row per run: its last round's stopping columns and a sentence to show.

    The sentence is ``"no new minority for 5 rounds: consider stopping"`` when ``stop_signal``
    is raised, else ``"12 minority found in the last 5 rounds"``.
    """
    if "minority_found_last_n" not in rounds:
        rounds = add_stopping_columns(rounds, window, patience)
    rows = []
    for run, g in (rounds.groupby("run", sort=False) if "run" in rounds else [(None, rounds)]):
        last = g.sort_values("round").iloc[-1]
        n_without = int(last["rounds_without_minority"])
        if bool(last["stop_signal"]):
            text = f"no new minority for {n_without} rounds: consider stopping"
        else:
            n = int(last["minority_found_last_n"])
            w = min(int(window), int(last["round"]))
            text = f"{n} minority found in the last {w} round{'s' if w != 1 else ''}"
        rows.append({"run": run, "round": int(last["round"]), "stop_signal": bool(last["stop_signal"]),
                     "minority_found_last_n": int(last["minority_found_last_n"]),
                     "rounds_without_minority": n_without,
                     "minority_left": float(last["minority_left"]),
                     "minority_left_estimate": float(last["minority_left_estimate"]),
                     "text": text})
    return pd.DataFrame(rows)
