"""The stopping columns on hand-computed toy rounds tables, and on a real experiment."""

import math

import numpy as np
import pandas as pd
import pytest

from conftest import make_prepared  # noqa: F401  (the blobs fixture's module)
from explorer.exceptions import ParameterError
from explorer.stopping import (STOP_COLUMNS, add_stopping_columns, found_last_n,
                               minority_found, random_band, removal_estimate, rounds_without,
                               stopping_summary)


def toy(run="a/b"):
    """Rounds 0..6: 10 labelled + 10 a round; minority 2, 5, 5, 6, 6, 6, 6; the first round chose
    from 100 unlabelled rows, 20 of them minority."""
    return pd.DataFrame({
        "run": run, "round": range(7), "n_labelled": [10, 20, 30, 40, 50, 60, 70],
        "n_minority": [2, 5, 5, 6, 6, 6, 6], "n_queried": [0] + [10] * 6,
        "n_unlabelled": [0, 100, 90, 80, 70, 60, 50],
        "pool_minority_share": [np.nan, 0.2, 17 / 90, 0.2, 16 / 70, 16 / 60, 16 / 50]})


def hypergeom_ppf(q, pool, k, n):
    """Smallest x with P(X <= x) >= q, by counting (no scipy)."""
    total = math.comb(pool, n)
    cdf = 0.0
    for x in range(n + 1):
        cdf += math.comb(k, x) * math.comb(pool - k, n - x) / total
        if cdf >= q - 1e-12:
            return x
    return n


def test_found_window_and_run_of_empty_rounds():
    found = minority_found([2, 5, 5, 6, 6, 6, 6])
    assert found.tolist() == [0, 3, 0, 1, 0, 0, 0]
    assert found_last_n(found, 2).tolist() == [0, 3, 3, 1, 1, 0, 0]
    assert found_last_n(found, 5).tolist() == [0, 3, 3, 4, 4, 4, 1]
    assert rounds_without(found).tolist() == [0, 0, 1, 0, 1, 2, 3]


def test_add_stopping_columns_by_hand():
    df = add_stopping_columns(toy(), window=2, patience=3)
    assert list(df.columns[-len(STOP_COLUMNS):]) == STOP_COLUMNS
    assert df["minority_found_last_n"].tolist() == [0, 3, 3, 1, 1, 0, 0]
    assert df["rounds_without_minority"].tolist() == [0, 0, 1, 0, 1, 2, 3]
    assert df["stop_signal"].tolist() == [False] * 6 + [True]
    # random sampling: the same 2-of-10 initial set, then 10 a round from 100 rows (20 minority)
    exp = [(2 + 0.2 * (n - 10)) / n for n in range(10, 80, 10)]
    np.testing.assert_allclose(df["random_expected_minority_share"], exp)
    lo = [(2 + hypergeom_ppf(0.05, 100, 20, n - 10)) / n for n in range(10, 80, 10)]
    hi = [(2 + hypergeom_ppf(0.95, 100, 20, n - 10)) / n for n in range(10, 80, 10)]
    np.testing.assert_allclose(df["random_share_lo"], lo)
    np.testing.assert_allclose(df["random_share_hi"], hi)
    assert df["random_share_lo"].iloc[0] == df["random_share_hi"].iloc[0] == 0.2  # nothing drawn
    assert (df["random_share_lo"] <= df["random_expected_minority_share"]).all()
    assert (df["random_expected_minority_share"] <= df["random_share_hi"]).all()
    assert df["minority_left"].tolist() == [20, 17, 17, 16, 16, 16, 16]


def test_runs_are_computed_apart_and_row_order_kept():
    a, b = toy("a/x"), toy("b/y")
    b["n_minority"] = [2, 2, 2, 2, 2, 2, 2]
    both = pd.concat([a, b], ignore_index=True).sample(frac=1, random_state=0)
    df = add_stopping_columns(both, window=2, patience=3)
    assert df.index.tolist() == both.index.tolist()
    b_rows = df[df["run"] == "b/y"].sort_values("round")
    assert b_rows["rounds_without_minority"].tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert b_rows["stop_signal"].tolist() == [False, False, False, True, True, True, True]
    a_rows = df[df["run"] == "a/x"].sort_values("round")
    assert a_rows["stop_signal"].tolist() == [False] * 6 + [True]


def test_annotate_mode_has_no_random_band_but_the_signal():
    df = toy()
    df["pool_minority_share"] = np.nan
    out = add_stopping_columns(df, patience=3)
    assert out["random_share_lo"].isna().all() and out["minority_left"].isna().all()
    assert out["stop_signal"].iloc[-1]


def test_old_rounds_table_without_optional_columns():
    old = toy()[["run", "round", "n_labelled", "n_minority"]]
    out = add_stopping_columns(old, patience=3)
    assert out["stop_signal"].tolist() == [False] * 6 + [True]
    assert out["random_expected_minority_share"].isna().all()


def test_removal_estimate_by_hand_and_when_undefined():
    # catch per query 0.25, 0.20, 0.16 after 0, 25, 45 caught: zero at 125, 61 caught
    assert removal_estimate([25, 20, 16], [100, 100, 100]) == pytest.approx(64.0)
    assert np.isnan(removal_estimate([25, 20], [100, 100]))        # two rounds: too few
    assert np.isnan(removal_estimate([1, 2, 3], [10, 10, 10]))      # no depletion seen
    assert np.isnan(removal_estimate([0, 0, 0], [10, 10, 10]))      # nothing caught at all
    assert np.isnan(removal_estimate([3, 3, 3, 3], [10, 10, 10, 10]))  # a flat catch
    assert removal_estimate([10, 5, 0, 0], [10, 10, 10, 10]) >= 0   # never negative
    # one catch then none (seen on WordNet: "≈0 left" of 1,941): too few caught to fit a line
    assert np.isnan(removal_estimate([1, 0, 0], [25, 25, 25]))
    assert np.isfinite(removal_estimate([6, 3, 1], [25, 25, 25]))  # MIN_CAUGHT = 10 caught


def test_random_band_errors():
    with pytest.raises(ParameterError, match=r"pool_minority=30 is larger than pool_size=20"):
        random_band([1], 20, 30)
    with pytest.raises(ParameterError, match=r"q=\(0.9, 0.1\) must be two quantiles"):
        random_band([1], 20, 3, q=(0.9, 0.1))
    with pytest.raises(ParameterError, match=r"pool_size=0 must be an integer >= 1"):
        random_band([1], 0, 0)


def test_add_stopping_columns_errors():
    with pytest.raises(ParameterError, match=r"lacks column\(s\) n_minority"):
        add_stopping_columns(toy().drop(columns=["n_minority"]))
    with pytest.raises(ParameterError, match=r"patience=0 must be an integer >= 1"):
        add_stopping_columns(toy(), patience=0)
    with pytest.raises(ParameterError, match=r"window=0 must be an integer >= 1"):
        add_stopping_columns(toy(), window=0)


def test_summary_sentence():
    s = stopping_summary(add_stopping_columns(toy(), window=2, patience=3), window=2)
    assert s["text"].iloc[0] == "no new minority for 3 rounds: consider stopping"
    s = stopping_summary(add_stopping_columns(toy().iloc[:4], window=2, patience=3), window=2)
    assert s["text"].iloc[0] == "1 minority found in the last 2 rounds"


def test_experiment_rounds_frame_and_parquet_carry_the_columns(blobs, tmp_path):
    from explorer.experiment import simulate

    exp = simulate(blobs, 3, [("anchoral", "entropy"), ("full", "random")], init_size=20,
                   query_size=10, subpool_size=80, n_neighbors=15, n_anchors=5)
    rounds = exp.rounds_frame()
    assert set(STOP_COLUMNS) <= set(rounds.columns)
    pool_n, pool_min = exp.pool_counts_
    init_min = int(np.isin(blobs.dataset.y[exp.initial_ids], exp.minority).sum())
    left0 = pool_min - init_min
    for _, g in rounds.groupby("run"):
        g = g.sort_values("round")
        # the truth: minority rows of the training pool not labelled yet
        assert g["minority_left"].tolist() == [left0 - (m - init_min) for m in g["n_minority"]]
        k = pool_min - init_min
        n = pool_n - 20
        np.testing.assert_allclose(g["random_expected_minority_share"],
                                   (init_min + (g["n_labelled"] - 20) * k / n) / g["n_labelled"])
    rounds_path, _ = exp.save(tmp_path)
    back = pd.read_parquet(rounds_path)
    assert set(STOP_COLUMNS) <= set(back.columns) and back["stop_signal"].dtype == bool


def test_a_session_whose_rounds_parquet_predates_the_columns_opens(tmp_path):
    from test_store import spec, toy_prepared

    from explorer.store import create_session, open_session

    p = toy_prepared()
    with create_session(tmp_path / "s", p, spec(p), [("anchoral", "entropy")], init_size=30,
                        query_size=10, subpool_size=60) as s:
        s.step()
    f = tmp_path / "s" / "rounds.parquet"
    old = pd.read_parquet(f).drop(columns=STOP_COLUMNS)
    old.to_parquet(f, index=False)
    assert not set(STOP_COLUMNS) & set(pd.read_parquet(f).columns)  # the old file, as it was
    with open_session(tmp_path / "s", prepared=p) as s:
        assert s.experiment.runs[0].round == 1
        s.step()
    assert set(STOP_COLUMNS) <= set(pd.read_parquet(f).columns)


def test_readme_rounds_table_documents_every_stopping_column():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = text.split("`DIR/rounds.parquet`", 1)[1].split("`DIR/queries.parquet`", 1)[0]
    assert "`minority_f1`" in table  # the table this test reads is the rounds table
    missing = [c for c in STOP_COLUMNS if f"`{c}`" not in table]
    assert not missing, f"README's rounds.parquet table lacks {missing}"


def test_running_removal_estimates_equal_one_fit_per_round():
    from explorer.stopping import removal_estimates

    rng = np.random.default_rng(0)
    for _ in range(20):
        found = rng.integers(0, 10, 12)
        effort = rng.choice([0, 10, 25], 12)
        one = [removal_estimate(found[:r + 1], effort[:r + 1]) for r in range(12)]
        np.testing.assert_allclose(removal_estimates(found, effort), one, rtol=1e-6, atol=1e-6)
    # a falling catch gives numbers
    falling = removal_estimates([9, 8, 6, 5, 3, 2], [10] * 6)
    assert np.isnan(falling[:2]).all() and np.isfinite(falling[2:]).all()
