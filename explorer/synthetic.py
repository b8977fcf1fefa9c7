"""Synthetic pools for benchmarks and scale tests: clustered unit vectors with rare minority clusters.

Real embeddings are clustered and anisotropic; uniform noise is not. ``make_pool`` draws cluster
centres on the unit sphere, puts most clusters in the majority class and a few small, scattered
ones in the minority class (as in the paper's Figure 1, rare examples live in several far-apart
clusters), and adds matching 2-D coordinates so a map of a 1M pool can be drawn without UMAP.
"""

from __future__ import annotations

import numpy as np


def make_pool(n=100_000, dim=384, n_clusters=200, n_minority_clusters=6, minority_share=0.02,
              noise=0.6, random_state=0, dtype=np.float32):
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
    X = np.empty((n, dim), dtype=dtype)
    step = 200_000
    for start in range(0, n, step):
        c = cluster[start:start + step]
        block = centres[c] + rng.normal(scale=noise / np.sqrt(dim), size=(len(c), dim)).astype(np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        X[start:start + step] = block
    grid = rng.uniform(-10, 10, size=(n_clusters, 2)).astype(np.float32)
    coords = grid[cluster] + rng.normal(scale=0.6, size=(n, 2)).astype(np.float32)
    return X, y, coords
