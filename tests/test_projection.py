"""UMAP projection: seeded, cached, sample-fit + transform for large pools."""

import numpy as np
import pytest

from explorer.exceptions import ParameterError
from explorer.projection import project

pytestmark = pytest.mark.slow


def blobs(n=300, d=16, seed=0):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(3, d)) * 3
    X = (C[np.arange(n) % 3] + rng.normal(size=(n, d))).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_deterministic_for_a_seed_and_cached(tmp_path):
    X = blobs()
    a = project(X, random_state=3, show_progress=False)
    b = project(X, random_state=3, show_progress=False, cache_path=tmp_path / "c.npy")
    assert a.shape == (300, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    # the cached file is read back, not recomputed: X is not even looked at
    c = project(None, random_state=3, cache_path=tmp_path / "c.npy")
    np.testing.assert_array_equal(a, c)


def test_sample_fit_then_transform():
    X = blobs(400)
    coords = project(X, random_state=0, fit_sample_threshold=100, fit_sample_size=150,
                     show_progress=False, chunk_size=64)
    assert coords.shape == (400, 2) and np.isfinite(coords).all()
    # the three blobs stay apart: each blob's centre is far from the others relative to its spread
    centres = np.array([coords[np.arange(400) % 3 == c].mean(0) for c in range(3)])
    spread = np.mean([coords[np.arange(400) % 3 == c].std(0).mean() for c in range(3)])
    gaps = [np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i + 1, 3)]
    assert min(gaps) > 2 * spread


def test_errors():
    with pytest.raises(ParameterError, match="UMAP needs at least 3 rows"):
        project(np.ones((2, 4), np.float32))
    with pytest.raises(ParameterError, match="fit_sample_size=1 .* must be >= 2"):
        project(np.ones((20, 4), np.float32), fit_sample_size=1)
