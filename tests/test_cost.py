"""The cost projection and the one-sentence summary, on hand-computed numbers."""

import json

import numpy as np
import pandas as pd
import pytest

from explorer.cost import (ENCODER_RESULTS, RECORDED, EncoderCost, anchoral_budget, encoder_cost,
                           explain_projection, explain_rounds, format_seconds, project_cost)
from explorer.exceptions import ParameterError

MS24 = EncoderCost(0.024, "test", "a test figure")


def test_recorded_cost_is_the_benchmarks_figure():
    measured = json.loads(ENCODER_RESULTS.read_text())["per_text_s_cpu"]
    assert RECORDED.seconds_per_text == measured
    cost = encoder_cost()
    assert cost.seconds_per_text == measured and cost.source == "encoder.json"
    assert cost.describe().startswith("24.1 ms of CPU per text (fine-tuned MiniLM")
    assert "2026-11-24" in cost.provenance and "2-core CPU" in cost.provenance


def test_encoder_cost_names_a_bad_file(tmp_path):
    bad = tmp_path / "encoder.json"
    bad.write_text("{}")
    with pytest.raises(ParameterError, match=r"is not an encoder.json written by "
                       r"bench_encoder.py \(KeyError"):
        encoder_cost(bad)


def test_anchoral_budget():
    assert anchoral_budget(799_900, 2) == 1_000                      # 2 x 10 x 50 < M = 10,000
    assert anchoral_budget(79_900, 15, n_train=80_000) == 7_500      # 15 x 10 x 50 < 10,000
    assert anchoral_budget(799_900, 45) == 10_000                    # 22,500 capped at M
    assert anchoral_budget(3_322, 2, n_train=3_422) == 1_000         # M = 3,422 // 3 = 1,140
    assert anchoral_budget(900, 2, subpool_size=1_140) == 900        # pool <= M: all of it


def test_project_cost_by_hand():
    t = project_cost(4_278, 2, n_unlabelled=3_322, cost=MS24)
    assert t["pool"].tolist() == [4_278, 100_000, 1_000_000, 10_000_000]
    assert t["this_pool"].tolist() == [True, False, False, False]
    # 100k: 80,000 training rows - 100 labelled; 1M: 800,000 - 100; 10M: 8,000,000 - 100
    assert t["full_texts"].tolist() == [3_322, 79_900, 799_900, 7_999_900]
    assert t["anchoral_texts"].tolist() == [1_000] * 4
    np.testing.assert_allclose(t["full_s"], np.array([3_322, 79_900, 799_900, 7_999_900]) * 0.024)
    np.testing.assert_allclose(t["anchoral_s"], 24.0)
    assert t["full_time"].tolist() == ["80 s", "32 min", "5.3 h", "2.2 days"]
    assert t["anchoral_time"].tolist() == ["24 s"] * 4
    assert t["ratio"].iloc[2] == pytest.approx(799.9)
    brown = project_cost(57_340, 15, cost=MS24, sizes=(10_000, 1_000_000))
    assert brown["pool"].tolist() == [57_340, 1_000_000]  # sizes below the pool are left out
    assert brown["full_texts"].tolist() == [45_872 - 100, 799_900]  # 57,340 x 0.8 = 45,872
    assert brown["anchoral_texts"].tolist() == [7_500, 7_500]
    with pytest.raises(ParameterError, match="n_rows=0 must be an integer >= 1"):
        project_cost(0, 2)


def test_explain_projection_names_the_measurement():
    t = project_cost(4_278, 2, cost=MS24)
    text = explain_projection(t, 2, cost=MS24)
    assert text.startswith("A projection, not a measurement: the fine-tuned encoder costs")
    assert "24.0 ms of CPU per text (a test figure)" in text
    assert "2 classes x 10 anchors x 50 neighbours = 1,000" in text
    assert text.endswith("at 10M rows a round costs 2.2 days against 24 s.")


def test_format_seconds():
    assert [format_seconds(s) for s in (0.0042, 0.04, 2.5, 24.1, 1929, 19288, 192_000,
                                        np.nan)] == \
        ["4.2 ms", "40 ms", "2.5 s", "24 s", "32 min", "5.4 h", "2.2 days", "-"]


def rounds(*runs):
    """A hand-made rounds table: (run, filter, n_unlabelled, n_scored, n_encoded, actual,
    t_retrieval, t_scoring, t_selection) per run, one selected round each after round 0."""
    rows = []
    for run, filt, unl, scored, enc, actual, tr, ts, tsel in runs:
        rows.append(dict(run=run, filter=filt, round=0, n_unlabelled=0, n_scored=0, n_encoded=0,
                         n_encoded_actual=actual, t_retrieval=np.nan, t_scoring=np.nan,
                         t_selection=np.nan))
        rows.append(dict(run=run, filter=filt, round=1, n_unlabelled=unl, n_scored=scored,
                         n_encoded=enc, n_encoded_actual=actual, t_retrieval=tr, t_scoring=ts,
                         t_selection=tsel))
    return pd.DataFrame(rows)


def test_explain_rounds_linear_head_retrieval_dominates():
    df = rounds(("anchoral/entropy", "anchoral", 3_322, 200, 200, False, 0.012, 0.001, 0.013),
                ("full/entropy", "full", 3_322, 3_322, 3_322, False, 0.0, 0.004, 0.004))
    assert explain_rounds(df, cost=MS24) == (
        "AnchorAL scored 6.0 % of the pool (200 of 3,322 texts); at this size a linear head "
        "scores the whole pool in 4.0 ms, so retrieval (12 ms) dominates and AnchorAL selects in "
        "13 ms against 4.0 ms; a fine-tuned encoder would need 4.8 s against 80 s to re-encode "
        "them (projected).")


def test_explain_rounds_scoring_dominates_and_fine_tuned():
    df = rounds(("anchoral/badge", "anchoral", 799_900, 950, 950, False, 0.025, 0.037, 0.063),
                ("full/badge", "full", 799_900, 799_900, 799_900, False, 0.0, 14.6, 14.6))
    assert "scoring the whole pool takes 15 s, more than retrieval (25 ms), so AnchorAL selects " \
           "in 63 ms against 15 s" in explain_rounds(df, cost=MS24)
    ft = rounds(("anchoral/entropy", "anchoral", 3_322, 615, 615, True, 0.2, 73.1, 73.4),
                ("full/entropy", "full", 3_322, 3_322, 3_322, True, 0.0, 165.7, 165.7))
    assert explain_rounds(ft) == (
        "AnchorAL scored 19 % of the pool (615 of 3,322 texts); its fine-tuned encoder "
        "re-encoded 615 texts against 3,322 for the full pool, so a selection took 73 s against "
        "2.8 min.")


def test_explain_rounds_without_a_full_pool_run_or_rounds():
    df = rounds(("seals/entropy", "seals", 1_000, 300, 300, False, 0.01, 0.002, 0.012))
    assert explain_rounds(df) == "SEALS scored 30 % of the pool (300 of 1,000 texts) in 12 ms " \
                                 "per round."
    assert explain_rounds(df.iloc[:1]) == ""
    with pytest.raises(ParameterError, match="run='x' has no selected round; choose one of "
                       "seals/entropy"):
        explain_rounds(df, run="x")
