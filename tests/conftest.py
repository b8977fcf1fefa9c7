"""Shared engine fixtures: small hand-built pools with an exact FAISS index (no model, no UMAP)."""

from types import SimpleNamespace

import numpy as np
import pytest

from explorer.data import Dataset
from explorer.index import build_index


def make_prepared(X, y, classes=("maj", "min"), minority=(1,), texts=None, split=None):
    """A Prepared-like object over unit-normalised ``X`` with labels ``y`` (exact index)."""
    X = np.asarray(X, np.float32)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    y = np.asarray(y, np.int64)
    if texts is None:
        texts = np.array([f"row {i} of class {classes[c]}" for i, c in enumerate(y)], object)
    ds = Dataset(texts=np.asarray(texts, object), y=y, classes=tuple(classes),
                 minority=tuple(minority), minority_inferred=False, name="toy",
                 content_hash="toy", split=split)
    return SimpleNamespace(dataset=ds, embeddings=X, index=build_index(X, kind="exact"),
                           coords=X[:, :2], cache_dir=None, timings={})


@pytest.fixture
def blobs():
    """600 rows in 8-d: a majority blob (540) and a minority blob (60), seeded."""
    rng = np.random.RandomState(0)
    centers = rng.normal(size=(2, 8)) * 3
    y = np.r_[np.zeros(540, int), np.ones(60, int)]
    X = centers[y] + rng.normal(size=(600, 8))
    return make_prepared(X, y)
