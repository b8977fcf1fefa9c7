"""Exact k-NN by blocked matrix products: equals numpy brute force with masks, ties, short pools,
float16 and memory-mapped input."""

import numpy as np
import pytest

from explorer.exact import exact_knn
from explorer.index import ExactIndex


def brute_force(X, q, k, mask=None):
    """argsort of the full similarity matrix; stable, so ties keep ascending row ids."""
    S = np.asarray(q, np.float64) @ np.asarray(X, np.float64).T
    if mask is not None:
        S[:, mask] = -np.inf
    ids = np.argsort(-S, axis=1, kind="stable")[:, :k]
    sims = np.take_along_axis(S, ids, axis=1)
    ids = np.where(np.isneginf(sims), -1, ids)
    return ids, sims


def small_ints(rng, n, d):
    # entries in {-2..2}: every dot product is exact in float32, so ties are exact ties
    return rng.integers(-2, 3, size=(n, d)).astype(np.float32)


@pytest.mark.parametrize("seed", range(6))
def test_equals_brute_force_with_masks_ties_and_tiny_blocks(seed):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(50, 900)), int(rng.integers(2, 6))
    X, q = small_ints(rng, n, d), small_ints(rng, 7, d)
    mask = rng.random(n) < rng.uniform(0.0, 0.9)
    k = int(rng.integers(1, 40))
    block = int(rng.integers(3, 200))  # many blocks: the cross-block merge is exercised
    sims, ids = exact_knn(X, q, k, mask, block_rows=block)
    ref_ids, ref_sims = brute_force(X, q, k, mask)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(sims, ref_sims.astype(np.float32))


def test_tie_order_is_ascending_row_id_across_blocks():
    # 10 identical rows: every similarity ties; the 4 smallest ids win, in order
    X = np.ones((10, 3), np.float32)
    sims, ids = exact_knn(X, np.ones((1, 3), np.float32), 4, block_rows=3)
    assert ids.tolist() == [[0, 1, 2, 3]]
    assert sims.tolist() == [[3.0, 3.0, 3.0, 3.0]]
    mask = np.zeros(10, bool)
    mask[[0, 2]] = True
    _, ids = exact_knn(X, np.ones((1, 3), np.float32), 4, mask, block_rows=4)
    assert ids.tolist() == [[1, 3, 4, 5]]


def test_k_larger_than_unmasked_rows_pads_with_minus_one_and_minus_inf():
    X = np.eye(6, dtype=np.float32)
    q = np.array([[0, 0, 0, 1, 0, 0], [1, 0, 0, 0, 0, 0]], np.float32)
    mask = np.array([True, False, True, False, False, True])
    ids, sims = ExactIndex(block_rows=2).fit(X).search(q, 5, exclude=mask)
    # unmasked rows: 1, 3, 4. Query 0 matches row 3 (sim 1), then rows 1 and 4 tie at 0
    assert ids.tolist() == [[3, 1, 4, -1, -1], [1, 3, 4, -1, -1]]
    assert sims[0, :3].tolist() == [1.0, 0.0, 0.0] and np.isneginf(sims[:, 3:]).all()
    # k above n as well: the index pads past n
    ids, sims = ExactIndex().fit(X).search(q[:1], 9)
    assert ids.shape == (1, 9) and (ids[0, 6:] == -1).all() and ids[0, 0] == 3


def test_everything_masked_returns_only_padding():
    X = np.eye(4, dtype=np.float32)
    ids, sims = ExactIndex().fit(X).search(X[:2], 3, exclude=np.ones(4, bool))
    assert (ids == -1).all() and np.isneginf(sims).all()


def test_float16_input_equals_float32_brute_force():
    rng = np.random.default_rng(3)
    X16 = small_ints(rng, 500, 8).astype(np.float16)  # small ints are exact in float16
    q = small_ints(rng, 5, 8)
    mask = rng.random(500) < 0.3
    index = ExactIndex(block_rows=64).fit(X16)
    assert index.X_ is X16  # a reference, not a float32 copy
    ids, sims = index.search(q, 20, exclude=mask)
    ref_ids, ref_sims = brute_force(X16.astype(np.float32), q, 20, mask)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(sims, ref_sims.astype(np.float32))
    assert "float16" in index.describe()


def test_memory_mapped_embeddings_are_referenced_not_copied(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 16)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    np.save(tmp_path / "x.npy", X)
    Xm = np.load(tmp_path / "x.npy", mmap_mode="r")
    index = ExactIndex(block_rows=100).fit(Xm)
    assert index.X_ is Xm and "memory-mapped" in index.describe()
    ids, sims = index.search(X[:4], 10, exclude=[0, 1, 2, 3])
    ref_ids, ref_sims = brute_force(X, X[:4], 10, np.isin(np.arange(300), [0, 1, 2, 3]))
    np.testing.assert_allclose(sims, ref_sims, atol=1e-5)
    # real-valued similarities: ids agree except on float ties (none at this size)
    np.testing.assert_array_equal(ids, ref_ids)
