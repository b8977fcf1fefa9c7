"""Two runs on one map and the enrichment table, on hand-made rounds tables."""

import numpy as np
import pandas as pd
import pytest

from explorer.compare import GROUPS, compare_runs, enrichment_frame
from explorer.exceptions import ParameterError
from explorer.experiment import simulate


def table():
    """Run A queried 1, 2 then 3, 4; run B 2, 5 then 4, 6 (labels: class index = id % 2;
    B skipped 6)."""
    rows = []
    for run, batches, labels in (("A", [[1, 2], [3, 4]], [[1, 0], [1, 0]]),
                                 ("B", [[2, 5], [4, 6]], [[0, 1], [0, -1]])):
        rows.append(dict(run=run, round=0, queried_ids=[], queried_labels=[],
                         pool_minority_share=np.nan, subpool_minority_share=np.nan,
                         queried_minority_share=np.nan))
        for r, (ids, lab) in enumerate(zip(batches, labels), start=1):
            rows.append(dict(run=run, round=r, queried_ids=ids, queried_labels=lab,
                             pool_minority_share=0.1 / r, subpool_minority_share=0.3 / r,
                             queried_minority_share=0.5 if run == "A" else 0.25 * r))
    return pd.DataFrame(rows)


def test_compare_runs_up_to_a_round():
    cmp = compare_runs(table(), "A", "B", classes=["even", "odd"])
    assert cmp.round == 2
    pts = cmp.points.set_index("id")
    assert pts["group"].to_dict() == {1: "only A", 2: "both", 3: "only A", 4: "both",
                                      5: "only B", 6: "only B"}
    assert pts["label"].to_dict() == {1: "odd", 2: "even", 3: "odd", 4: "even", 5: "odd",
                                      6: "(skipped)"}
    assert pts.loc[4, ["round_a", "round_b"]].tolist() == [2, 2]
    assert pts.loc[5, ["round_a", "round_b"]].tolist() == [-1, 1]
    assert cmp.counts.columns.tolist() == list(GROUPS)
    assert cmp.counts.to_dict("index") == {
        "even": {"both": 2, "only A": 0, "only B": 0},
        "odd": {"both": 0, "only A": 2, "only B": 1},
        "(skipped)": {"both": 0, "only A": 0, "only B": 1},
        "total": {"both": 2, "only A": 2, "only B": 2}}
    assert cmp.summary() == "both 2, only A 2, only B 2"


def test_compare_runs_one_round_and_errors():
    first = compare_runs(table(), "A", "B", round=1)
    assert sorted(first.points["id"]) == [1, 2, 5]
    batch = compare_runs(table(), "A", "B", round=2, cumulative=False)
    assert batch.points.set_index("id")["group"].to_dict() == {3: "only A", 4: "both",
                                                               6: "only B"}
    assert batch.counts.loc["total"].tolist() == [1, 1, 1]
    with pytest.raises(ParameterError, match="run_b='C' is not a run of this table; choose one "
                       "of A, B"):
        compare_runs(table(), "A", "C")
    with pytest.raises(ParameterError, match="pick two different runs"):
        compare_runs(table(), "A", "A")
    with pytest.raises(ParameterError, match="round=3 must be a round both runs completed, 1..2"):
        compare_runs(table(), "A", "B", round=3)


def test_enrichment_frame_long_form():
    e = enrichment_frame(table())
    assert len(e) == 2 * 2 * 3 and set(e["what"]) == {"pool", "subpool", "queried"}
    row = e[(e["run"] == "B") & (e["round"] == 2)].set_index("what")["share"].to_dict()
    assert row == pytest.approx({"pool": 0.05, "subpool": 0.15, "queried": 0.5})


def test_compare_a_real_experiment(blobs):
    exp = simulate(blobs, 2, [("anchoral", "entropy"), ("full", "entropy")], init_size=20,
                   query_size=10, subpool_size=80, n_neighbors=15, n_anchors=5)
    cmp = compare_runs(exp.rounds_frame(), "anchoral/entropy", "full/entropy",
                       classes=blobs.dataset.classes)
    a = np.concatenate([s.ids for s in exp.runs[0].selections[1:]])
    b = np.concatenate([s.ids for s in exp.runs[1].selections[1:]])
    total = cmp.counts.loc["total"]
    assert total["both"] == len(np.intersect1d(a, b))
    assert total["both"] + total["only A"] == 20 and total["both"] + total["only B"] == 20
    y = blobs.dataset.y
    assert cmp.counts.loc["min"].sum() == int((y[np.union1d(a, b)] == 1).sum())


def test_export_compare_from_a_session(tmp_path, blobs):
    from explorer.cli import main
    from explorer.store import create_session

    spec = {"source": "toy", "name": "toy", "content_hash": blobs.dataset.content_hash}
    with create_session(tmp_path / "s", blobs, spec, [("anchoral", "entropy"), ("full", "entropy")],
                        init_size=20, query_size=10, subpool_size=80, n_neighbors=15,
                        n_anchors=5) as s:
        s.step()
        s.step()
        ref = compare_runs(s.experiment.rounds_frame(), "anchoral/entropy", "full/entropy",
                           classes=blobs.dataset.classes)
    out = tmp_path / "cmp.csv"
    assert main(["export", str(tmp_path / "s"), "--what", "compare", "--runs",
                 "anchoral/entropy", "full/entropy", "--out", str(out)]) == 0
    back = pd.read_csv(out)
    assert back.columns.tolist() == ["id", "group", "run_a", "run_b", "label", "round_a",
                                     "round_b"]
    assert back["id"].tolist() == ref.points["id"].tolist()
    assert back["label"].tolist() == ref.points["label"].tolist()  # class names, not indices
    assert main(["export", str(tmp_path / "s"), "--what", "compare", "--out", str(out)]) == 2
