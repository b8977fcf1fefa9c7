"""Full-pool scoring in row blocks of a memory-mapped .npy (no Dask here; the cluster path is in
test_cluster.py): the chunked path gives the in-memory path's ids, never holds the pool at once."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.exceptions import DataError, ParameterError
from explorer.full_pool import ROW_SCORES, head_of, score_pool, top_rows
from explorer.models import LogisticHead, MLPHead
from explorer.strategies.scores import top_n
from explorer.synthetic import make_pool


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """3,000 x 24 float16 rows on disk, with an LR head fitted on 120 labelled rows."""
    X, y, _ = make_pool(n=3000, dim=24, n_clusters=30, n_minority_clusters=3,
                        minority_share=0.05, random_state=3, dtype=np.float16)
    path = tmp_path_factory.mktemp("pool") / "pool.npy"
    np.save(path, X)
    X = np.load(path, mmap_mode="r")
    labelled = np.random.default_rng(0).choice(3000, 120, replace=False)
    model = LogisticHead(X, 2, random_state=0).fit(labelled, y[labelled])
    return path, X, y, model, np.sort(labelled)


def _in_memory(model, n_rows, strategy, n, exclude):
    """The reference: score every candidate at once, the project's top_n with no rng."""
    cand = np.setdiff1d(np.arange(n_rows), exclude)
    scores = ROW_SCORES[strategy](model.predict_proba(cand))
    pos = top_n(scores, n)
    return cand[pos], scores[pos]


@pytest.mark.parametrize("strategy", sorted(ROW_SCORES))
def test_chunked_scoring_gives_the_in_memory_ids(pool, strategy):
    path, X, _, model, labelled = pool
    ref_ids, ref_scores = _in_memory(model, len(X), strategy, 50, labelled)
    got = score_pool(path, model, strategy, 50, exclude=labelled, partition_rows=700,
                     block_rows=128)
    np.testing.assert_array_equal(got.ids, ref_ids)
    np.testing.assert_allclose(got.scores, ref_scores, rtol=1e-12)
    assert got.n_scored == 3000 - 120 and got.n_partitions == 5
    assert not np.isin(got.ids, labelled).any()


def test_one_block_per_call_and_every_row_scored_once(pool):
    path, X, _, model, labelled = pool
    seen = []

    class Spy:  # a classifier on feature rows: records what each call receives
        def predict_proba(self, rows):
            seen.append(len(rows))
            return model.estimator_.predict_proba(rows)

    ranges = []
    got = score_pool(path, Spy(), "entropy", 10, exclude=labelled, partition_rows=1000,
                     block_rows=300, on_result=lambda s, e: ranges.append((s, e)))
    assert max(seen) <= 300 and sum(seen) == 3000 - 120  # never the whole pool at once
    assert ranges == [(0, 1000), (1000, 2000), (2000, 3000)]
    np.testing.assert_array_equal(got.ids, _in_memory(model, len(X), "entropy", 10, labelled)[0])


def test_ties_go_to_the_lower_id_across_partitions(tmp_path):
    X = np.tile(np.float32([[1.0, 0.0], [0.0, 1.0]]), (50, 1))  # only two distinct rows
    path = tmp_path / "ties.npy"
    np.save(path, X)

    class Fixed:
        def predict_proba(self, rows):
            p = np.where(rows[:, :1] > 0, 0.5, 0.9)
            return np.hstack([p, 1 - p])

    got = score_pool(path, Fixed(), "entropy", 7, partition_rows=9, block_rows=4)
    np.testing.assert_array_equal(got.ids, np.arange(0, 14, 2))  # the max-entropy rows, by id
    ids, scores = top_rows([5, 3, 9, 1], [0.2, np.nan, 0.2, 0.1], 3)
    np.testing.assert_array_equal(ids, [5, 9, 1])  # NaN ranks last


def test_head_of_takes_the_estimator_not_the_pool(pool):
    path, X, y, model, labelled = pool
    head = head_of(model)
    assert not any(v is X for v in vars(head).values())
    rows = np.arange(40)
    np.testing.assert_array_equal(head.predict_proba(np.asarray(X[rows], np.float32)),
                                  model.predict_proba(rows))
    one = LogisticHead(X, 3).fit(labelled[:5], np.full(5, 2))  # one class seen, of three
    np.testing.assert_array_equal(head_of(one).predict_proba(np.zeros((4, 24), np.float32)),
                                  one.predict_proba(np.arange(4)))
    mlp = MLPHead(X, 2, hidden=8, max_iter=50, random_state=0).fit(labelled, y[labelled])
    got = score_pool(path, mlp, "margin", 20, exclude=labelled, partition_rows=1100)
    np.testing.assert_array_equal(got.ids, _in_memory(mlp, len(X), "margin", 20, labelled)[0])


def test_everything_excluded_or_n_above_the_pool(pool):
    path, X, _, model, _ = pool
    got = score_pool(path, model, "entropy", 10, exclude=np.arange(3000), partition_rows=1000)
    assert got.ids.size == 0 and got.n_scored == 0 and got.n_partitions == 3
    got = score_pool(path, model, "entropy", 5000, exclude=np.arange(100, 3000))
    assert sorted(got.ids) == list(range(100))


def test_the_pool_may_be_given_as_its_memory_map(pool):
    path, X, _, model, labelled = pool
    assert isinstance(X, np.memmap)
    by_path = score_pool(path, model, "entropy", 30, exclude=labelled)
    by_map = score_pool(X, model, "entropy", 30, exclude=labelled)
    np.testing.assert_array_equal(by_map.ids, by_path.ids)
    with pytest.raises(DataError, match=r"the memory map has shape \(100, 24\) but its file .* "
                                        r"holds \(3000, 24\): pass the whole pool"):
        score_pool(X[:100], model)
    with pytest.raises(DataError, match=r"the pool must be a \.npy path or its memory map .* "
                                        r"not an array in memory"):
        score_pool(np.asarray(X), model)


def test_errors_name_the_parameter_and_the_fix(pool, tmp_path):
    path, X, _, model, _ = pool
    with pytest.raises(ParameterError, match=r"strategy='badge' is unknown; full-pool scoring "
                                             r"row by row supports entropy, margin, leastconf"):
        score_pool(path, model, "badge")
    with pytest.raises(ParameterError, match=r"n=0 must be an integer >= 1; it is the batch"):
        score_pool(path, model, n=0)
    with pytest.raises(ParameterError, match=r"partition_rows=0 must be an integer >= 1"):
        score_pool(path, model, partition_rows=0)
    with pytest.raises(ParameterError, match=r"block_rows=-1 must be an integer >= 1"):
        score_pool(path, model, block_rows=-1)
    with pytest.raises(ParameterError, match=r"exclude must hold row ids in \[0, 3000\), got "
                                             r"-1\.\.4"):
        score_pool(path, model, exclude=[4, -1])
    with pytest.raises(DataError, match=r"path='.*pool\.csv' must be an existing \.npy file"):
        score_pool(tmp_path / "pool.csv", model)
    np.save(tmp_path / "flat.npy", np.zeros(5))
    with pytest.raises(DataError, match=r"holds an array of shape \(5,\); the pool's vectors "
                                        "must be 2-D"):
        score_pool(tmp_path / "flat.npy", model)
    with pytest.raises(ParameterError, match=r"model=LogisticHead must be a fitted LR or MLP "
                                             r"head .*; fit it first"):
        score_pool(path, LogisticHead(X, 2))


def test_the_fine_tuned_encoder_is_sent_to_its_own_path(pool):
    path = pool[0]

    class FineTuned:
        name = "finetune"

    with pytest.raises(ParameterError, match=r"model=finetune scores texts, not vectors; score "
                                             r"the pool with explorer\.distributed\.score_"):
        score_pool(path, FineTuned())


def test_a_worker_without_the_file_or_with_another_one_says_so(pool, tmp_path):
    from explorer.full_pool import _score_rows

    path, X, _, model, _ = pool
    kw = dict(head=head_of(model), strategy="entropy", n=3, block_rows=10)
    with pytest.raises(FileNotFoundError, match=r"gone\.npy is not on .*: every worker reads the "
                                                r"pool at the same path"):
        _score_rows(0, 10, np.empty(0, np.int64), path=str(tmp_path / "gone.npy"),
                    shape=X.shape, **kw)
    with pytest.raises(ValueError, match=r"has shape \(3000, 24\) here, \(10, 24\) on the "
                                         "client: a different file at the same path"):
        _score_rows(0, 10, np.empty(0, np.int64), path=str(path), shape=(10, 24), **kw)
