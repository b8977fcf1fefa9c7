"""Shared engine fixtures: small hand-built pools with an exact FAISS index (no model, no UMAP);
:func:`skip_unless_ci` for what the machine (not the test extra) may lack."""

import os
from types import SimpleNamespace

import numpy as np
import pytest

from explorer.data import Dataset
from explorer.index import build_index


def on_ci(env=None) -> bool:
    """True when ``CI`` is set to anything but empty, ``0``, ``false`` or ``no``."""
    value = (os.environ if env is None else env).get("CI", "")
    return value.strip().lower() not in ("", "0", "false", "no")


def skip_unless_ci(reason: str) -> None:
    """Skip the test for ``reason`` on a person's machine; fail it with ``CI=true``.

    For what the machine provides, not the test extra (Chromium, the shipped sample): with
    ``CI=true`` nothing the suite needs may be skipped. Packages of the test extra are imported
    outright, never skipped.
    """
    if on_ci():
        pytest.fail(f"{reason} (CI=true: nothing the suite needs may be skipped)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def missing():
    """:func:`skip_unless_ci`, for test modules (which cannot import this conftest)."""
    return skip_unless_ci


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
