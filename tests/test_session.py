import threading

import numpy as np
import pytest

from conftest import make_prepared
from explorer.exceptions import DataError, ParameterError
from explorer.metrics import curve_auc, evaluate, minority_share
from explorer.experiment import (QUERY_COLUMNS, ROUND_COLUMNS, Experiment, default_subpool_size,
                              simulate)

ALL = [(f, s) for f in ("anchoral", "full", "randsub", "seals") for s in ("entropy", "badge")]
SMALL = dict(init_size=20, query_size=10, subpool_size=80, n_neighbors=15, n_anchors=5)


def test_same_seed_same_queries_and_shared_initial_set(blobs):
    a = simulate(blobs, 3, ALL, seed=4, **SMALL)
    b = simulate(blobs, 3, ALL, seed=4, **SMALL)
    for ra, rb in zip(a.runs, b.runs):
        assert [s.ids.tolist() for s in ra.selections[1:]] == \
               [s.ids.tolist() for s in rb.selections[1:]]
    first = {tuple(np.sort(r.labelled[:20])) for r in a.runs}
    assert len(first) == 1  # every run started from the same initial set
    c = simulate(blobs, 1, ALL[:1], seed=5, **SMALL)
    assert c.runs[0].selections[1].ids.tolist() != a.runs[0].selections[1].ids.tolist()


def test_initial_set_has_init_per_minority(blobs):
    exp = Experiment(blobs, init_size=30, init_per_minority=5, seed=0, subpool_size=50)
    y = blobs.dataset.y[exp.initial_ids]
    assert len(exp.initial_ids) == 30 and (y == 1).sum() == 5
    assert not np.isin(exp.initial_ids, exp.test_ids).any()


def test_rounds_and_queries_frames(blobs):
    exp = simulate(blobs, 2, [("anchoral", "entropy"), ("full", "margin")], **SMALL)
    rounds = exp.rounds_frame()
    assert set(ROUND_COLUMNS) <= set(rounds.columns)
    assert {"f1_maj", "f1_min", "anchor_ids", "subpool_ids", "queried_ids"} <= set(rounds.columns)
    assert len(rounds) == 2 * 3 and rounds["round"].tolist() == [0, 1, 2] * 2
    r0 = rounds[rounds["round"] == 0].iloc[0]
    assert r0["n_labelled"] == 20 and np.isnan(r0["t_selection"]) and r0["t_train"] > 0
    last = rounds.iloc[2]
    assert last["n_labelled"] == 40 and last["subpool_size"] == 80 and last["n_anchors"] == 10
    queries = exp.queries_frame()
    assert queries.columns.tolist() == QUERY_COLUMNS and len(queries) == 2 * 2 * 10
    np.testing.assert_array_equal(queries["label"], blobs.dataset.y[queries["id"]])
    anchored = queries[queries["filter"] == "anchoral"]
    assert (anchored["anchor_id"] >= 0).all() and anchored["similarity"].between(-1, 1.0001).all()
    summary = exp.summary()
    assert summary["minority_f1_auc"].between(0, 1).all()
    assert (summary["t_selection_total"] > 0).all()


def test_save_writes_parquet(blobs, tmp_path):
    import pandas as pd

    exp = simulate(blobs, 1, [("seals", "entropy")], **SMALL)
    rounds_path, queries_path = exp.save(tmp_path / "out")
    assert set(ROUND_COLUMNS) <= set(pd.read_parquet(rounds_path).columns)
    assert pd.read_parquet(queries_path).columns.tolist() == QUERY_COLUMNS


def test_propose_is_idempotent_and_commit_takes_human_labels(blobs):
    exp = Experiment(blobs, [("anchoral", "entropy")], **SMALL)
    run = exp.runs[0]
    sel = run.propose()
    assert run.propose() is sel and run.round == 0
    labels = ["min"] + [-1] + [0] * (len(sel.ids) - 2)
    rec = run.commit(labels)
    assert rec.round == 1 and rec.n_labelled == 20 + len(sel.ids) - 1
    assert run.labels[-len(sel.ids) + 1:].tolist() == [1] + [0] * (len(sel.ids) - 2)
    assert sel.ids[1] in run.skipped and sel.ids[1] not in run.unlabelled()
    with pytest.raises(ParameterError, match=r"label 'spam' is not a class; use one of maj, min"):
        run.propose()
        run.commit(["spam"] * 10)
    with pytest.raises(ParameterError, match="labels has 1 entries for 10 proposed rows"):
        run.commit([0])


def test_run_callback_progress_and_cancel(blobs):
    exp = Experiment(blobs, ALL[:3], **SMALL)
    cancel = threading.Event()
    seen = []

    def callback(run, record):
        seen.append((run.key, record.round))
        if record.round == 2 and run.key == ALL[1][0] + "/" + ALL[1][1]:
            cancel.set()

    done = exp.run(5, callback=callback, cancel=cancel)
    assert done == 1  # round 2 stopped after its second run
    assert ("anchoral/entropy", 0) in seen and max(r for _, r in seen) == 2
    assert [r.round for r in exp.runs] == [2, 2, 1]


def test_split_column_is_the_test_set():
    rng = np.random.RandomState(0)
    y = np.r_[np.zeros(200, int), np.ones(40, int)]
    split = np.where(np.arange(240) % 4 == 0, "test", "train").astype(object)
    p = make_prepared(rng.normal(size=(240, 5)) + y[:, None] * 3, y, split=split)
    exp = Experiment(p, init_size=20, subpool_size=30, n_neighbors=10)
    assert exp.test_ids.tolist() == list(range(0, 240, 4))


def test_default_subpool_size_caps_the_paper_value():
    assert default_subpool_size(3_422) == 1_140
    assert default_subpool_size(600) == 250
    assert default_subpool_size(46_000) == 10_000
    assert default_subpool_size(1_000_000) == 10_000


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(n_rounds=100), ParameterError,
     r"rounds=100 would exhaust the pool: init_size \+ rounds x query_size = 2,600 > 480 rows "
     r"in the training pool; use rounds <= 15"),
    (dict(n_neighbors=500), ParameterError,
     r"n_neighbors=500 is larger than the training pool \(480 rows\); use n_neighbors <= 480"),
    (dict(query_size=0), ParameterError, r"query_size=0 must be an integer >= 1"),
    (dict(init_size=-1), ParameterError, r"init_size=-1 must be an integer >= 1"),
    (dict(subpool_size=0), ParameterError, r"subpool_size=0 must be an integer >= 1"),
    (dict(init_size=3, init_per_minority=5), ParameterError,
     r"init_size=3 must be >= init_per_minority x minority classes = 5 x 1 = 5"),
    (dict(init_per_minority=60), DataError,
     r"init_per_minority=60 but minority class 'min' has only 48 rows in the training pool"),
    (dict(init_size=1000), ParameterError, r"init_size=1000 is larger than the training pool"),
    (dict(model="svm"), ParameterError, r"model='svm' is unknown; choose one of lr, mlp"),
    (dict(anchor_strategy="mean"), ParameterError, r"anchor_strategy='mean' is unknown"),
    (dict(sampling="x"), ParameterError, r"sampling='x' is unknown; choose one of topk, softmax"),
    (dict(test_size=1.5), ParameterError, r"test_size=1.5 must be a fraction in \(0, 1\)"),
    (dict(runs=[("anchoral", "magic")]), ParameterError, r"strategy='magic' is unknown"),
    (dict(runs=[("nope", "entropy")]), ParameterError, r"filter='nope' is unknown"),
    (dict(runs=[]), ParameterError, r"runs is empty"),
    (dict(runs=[("full", "entropy"), ("full", "entropy")]), ParameterError, r"listed twice"),
    (dict(initial_ids=[-5]), ParameterError, r"initial_ids must be labelled rows"),
])
def test_experiment_errors(kwargs, error, message, blobs):
    with pytest.raises(error, match=message):
        Experiment(blobs, **kwargs)


def test_step_refuses_to_exhaust_the_pool(blobs):
    exp = Experiment(blobs, [("full", "entropy")], init_size=400, query_size=50)
    exp.step()
    with pytest.raises(ParameterError, match="would exhaust the pool"):
        exp.step()


# -- metrics -----------------------------------------------------------------------------------
def test_evaluate_hand_computed():
    y_true = np.array([0, 0, 0, 1, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 0])
    m = evaluate(y_true, y_pred, 3, minority=(1, 2))
    # pooled minority {1, 2}: true 3, predicted 3, overlap 2 -> 2*2/6
    assert m["minority_f1"] == pytest.approx(4 / 6)
    assert m["majority_f1"] == pytest.approx(2 * 2 / 6)
    # class 0: true {0,1,2}, predicted {0,1,5}; class 1: {3} vs {2,3}; class 2: {4,5} vs {4}
    assert m["per_class_f1"] == pytest.approx([2 / 3, 2 / 3, 2 / 3])
    assert m["macro_f1"] == pytest.approx(2 / 3)


def test_curve_auc_and_minority_share():
    assert curve_auc([0.8, 0.8, 0.8]) == pytest.approx(0.8)
    assert curve_auc([0.0, 1.0]) == pytest.approx(0.5)
    assert minority_share([0, 1, 1, 2], (1,)) == 0.5


# -- the paper's Figure 1 ----------------------------------------------------------------------
def figure1(seed):
    """A majority arc in the e1-e2 plane overlapping minority cluster A (the boundary that
    full-pool AL keeps refining) and a tight, far minority cluster B towards e3 with a single
    labelled instance (the paper's bold red circle)."""
    rng = np.random.RandomState(seed)

    def arc(n, mu, sd):
        t = np.deg2rad(rng.normal(mu, sd, n))
        return np.c_[np.cos(t), np.sin(t), np.zeros(n)]

    b = np.array([0.5, 0.0, 1.0]) / np.hypot(0.5, 1.0)
    X = np.vstack([arc(1500, 0, 25), arc(100, 45, 12), b + rng.normal(0, 0.03, (40, 3))])
    X += rng.normal(0, 0.02, X.shape)
    y = np.r_[np.zeros(1500, int), np.ones(140, int)]
    init = np.r_[rng.choice(1500, 45, replace=False), 1500 + rng.choice(100, 4, replace=False), 1600]
    split = np.where(rng.rand(len(y)) < 0.15, "test", "train").astype(object)
    split[init], split[1600:] = "train", "train"
    return make_prepared(X, y, split=split), np.arange(1601, 1640), init


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_figure1_anchoral_discovers_the_far_minority_cluster(seed):
    prepared, cluster_b, init = figure1(seed)
    exp = simulate(prepared, 5, [("anchoral", "entropy"), ("full", "entropy")], seed=seed,
                   query_size=25, initial_ids=init, subpool_size=250, n_neighbors=50)
    found = {r.filter_name: int(np.isin(r.labelled, cluster_b).sum()) for r in exp.runs}
    assert found["full"] == 0, "full-pool entropy stays on the initial boundary"
    assert found["anchoral"] >= 3, "AnchorAL's anchor in cluster B pulls it into the subpool"
