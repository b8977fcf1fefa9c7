"""The sort-based id helpers match np.unique and find duplicates."""

import numpy as np

from explorer._arrays import has_duplicates, unique_ids


def test_unique_ids_hand_computed():
    assert unique_ids(np.array([3, 1, 3, 2, 1], np.int64)).tolist() == [1, 2, 3]
    assert unique_ids(np.array([-1, 5, -1], np.int64)).tolist() == [-1, 5]
    assert unique_ids(np.array([[2, 2], [0, 2]])).tolist() == [0, 2]  # ravelled, as np.unique
    assert unique_ids(np.array([7], np.int64)).tolist() == [7]
    empty = unique_ids(np.empty(0, np.int64))
    assert empty.size == 0 and empty.dtype == np.int64
    assert unique_ids(np.array([4, 4], np.int32)).dtype == np.int32


def test_unique_ids_equals_np_unique_on_random_ids():
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 10, 1000, 50_000):
        ids = rng.integers(0, max(n // 3, 1), n).astype(np.int64)
        assert np.array_equal(unique_ids(ids), np.unique(ids))


def test_has_duplicates():
    assert not has_duplicates(np.array([1, 2, 3]))
    assert has_duplicates(np.array([1, 2, 1]))
    assert has_duplicates(np.array([9, 9]))
    assert not has_duplicates(np.empty(0, np.int64))
    assert not has_duplicates(np.array([5]))
