"""A synthetic pool for trying the explorer at scale (``anchoral serve synthetic:1000000``).

Clustered unit vectors with rare minority clusters and matching 2-D coordinates from
:func:`explorer.synthetic.make_pool` (no embedding, no UMAP), wrapped as a
:class:`~explorer.prepare.Prepared` so the app, the engine and the map take it like any pool.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..exceptions import ParameterError

PREFIX = "synthetic:"


def is_synthetic(source) -> bool:
    return isinstance(source, str) and source.startswith(PREFIX)


def parse(source) -> int:
    """``"synthetic:100000"`` → 100000 (rows)."""
    raw = source[len(PREFIX):].replace("_", "").replace(",", "")
    try:
        n = int(float(raw))
    except ValueError:
        n = -1
    if n < 500:
        raise ParameterError(f"source={source!r}: the row count must be an integer >= 500, "
                             "e.g. synthetic:100000")
    return n


def synthetic_prepared(n=100_000, *, dim=32, minority_share=0.02, texts=None, random_state=0,
                       index="auto"):
    """A :class:`~explorer.prepare.Prepared` pool of ``n`` synthetic rows, two classes.

    Parameters
    ----------
    n : int
        Rows.
    dim : int
        Embedding dimension (kept small so a million rows fit in memory).
    minority_share : float
        Share of the minority class ("rare").
    texts : sequence of str, optional
        Texts to cycle through instead of the generated ones (e.g. hostile markup in tests).
    random_state : int
    index : str
        Passed to :func:`explorer.index.build_index`.
    """
    from ..data import Dataset
    from ..index import build_index
    from ..prepare import Prepared
    from ..synthetic import make_pool

    X, y, coords = make_pool(n, dim=dim, n_clusters=min(200, max(8, n // 200)),
                             n_minority_clusters=4, minority_share=minority_share,
                             random_state=random_state)
    if texts is None:
        words = ("offer", "meeting", "report", "free", "win", "schedule", "prize", "project",
                 "invoice", "lunch", "urgent", "update")
        texts = np.array([f"synthetic row {i}: {words[i % len(words)]} "
                          f"{'rare' if y[i] else 'common'}" for i in range(n)], dtype=object)
    else:
        texts = np.array([texts[i % len(texts)] for i in range(n)], dtype=object)
    digest = hashlib.sha256(f"synthetic-{n}-{dim}-{random_state}-{minority_share}".encode())
    dataset = Dataset(texts=texts, y=y.astype(np.int64), classes=("common", "rare"),
                      minority=(1,), minority_inferred=False, name=f"synthetic-{n}",
                      content_hash=digest.hexdigest(), source=f"{PREFIX}{n}")
    return Prepared(dataset=dataset, embeddings=X, coords=coords.astype(np.float32),
                    index=build_index(X, kind=index), cache_dir=Path("."), timings={},
                    sources={"embeddings": "synthetic", "coords": "synthetic"})
