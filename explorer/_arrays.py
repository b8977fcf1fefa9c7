"""Integer id-array helpers by one sort: numpy 2.4's ``np.unique`` takes a hash path that is ~30x slower on a million ids."""

from __future__ import annotations

import numpy as np


def unique_ids(ids) -> np.ndarray:
    """The sorted distinct values of an integer array: ``np.unique(ids)``, computed by one sort.

    With numpy 2.4, ``np.unique`` on 800,000 int64 ids took 0.5–1.2 s against ~17 ms for a sort
    (measured here); a full-pool round calls it on every unlabelled id.
    """
    a = np.sort(np.asarray(ids).ravel())
    if a.size < 2:
        return a
    return a[np.concatenate(([True], a[1:] != a[:-1]))]


def has_duplicates(ids) -> bool:
    """Whether an integer array holds some value twice (one sort, no unique array built)."""
    a = np.sort(np.asarray(ids).ravel())
    return bool(a.size > 1 and (a[1:] == a[:-1]).any())
