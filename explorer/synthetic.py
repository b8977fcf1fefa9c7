"""Synthetic pools for benchmarks and scale tests: clustered unit vectors with rare minority clusters.

Real embeddings are clustered and anisotropic; uniform noise is not. ``make_pool`` draws cluster
centres on the unit sphere, puts most clusters in the majority class and a few small, scattered
ones in the minority class (as in the paper's Figure 1, rare examples live in several far-apart
clusters), and adds matching 2-D coordinates so a map of a 1M pool can be drawn without UMAP.
"""

from __future__ import annotations

import numpy as np


def make_pool(n=100_000, dim=384, n_clusters=200, n_minority_clusters=6, minority_share=0.02,
              noise=0.6, random_state=0, dtype=np.float32, out=None):
    """Return ``(X, y, coords)``: unit vectors (n, dim), labels (0 majority, 1 minority), 2-D coords.

    Parameters
    ----------
    n : int
        Pool size.
    dim : int
        Vector dimension.
    n_clusters : int
        Clusters in all; ``n_minority_clusters`` of them hold the minority class.
    minority_share : float
        Share of the rows in minority clusters.
    noise : float
        Within-cluster spread relative to the distance between centres (higher = harder).
    random_state : int
    dtype : numpy dtype
        Storage type of ``X`` (the rows are computed in float32 blocks, then cast).
    out : array of shape (n, dim), optional
        Where to write ``X`` block by block (e.g. a memory-mapped ``.npy`` opened with
        ``numpy.lib.format.open_memmap``), so a large pool never exists twice in memory;
        the same seed writes the same values as without ``out``.
    """
    rng = np.random.default_rng(random_state)
    centres = rng.normal(size=(n_clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    n_min = int(round(n * minority_share))
    minority_clusters = np.arange(n_minority_clusters)
    majority_clusters = np.arange(n_minority_clusters, n_clusters)
    sizes = rng.dirichlet(np.full(len(majority_clusters), 2.0))
    cluster = np.concatenate([
        rng.choice(minority_clusters, size=n_min),
        rng.choice(majority_clusters, size=n - n_min, p=sizes),
    ])
    rng.shuffle(cluster)
    y = np.isin(cluster, minority_clusters).astype(np.int64)
    if out is not None and (out.shape != (n, dim)):
        from .exceptions import ParameterError

        raise ParameterError(f"out has shape {out.shape}, expected ({n}, {dim}); give an array "
                             "of one row per pool row")
    X = np.empty((n, dim), dtype=dtype) if out is None else out
    step = 50_000  # float64 noise of one block: 50k x 384 x 8 B = 150 MB
    for start in range(0, n, step):
        c = cluster[start:start + step]
        block = centres[c] + rng.normal(scale=noise / np.sqrt(dim), size=(len(c), dim)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        X[start:start + step] = block
    grid = rng.uniform(-10, 10, size=(n_clusters, 2)).astype(np.float32)
    coords = grid[cluster] + rng.normal(scale=0.6, size=(n, 2)).astype(np.float32)
    return X, y, coords
