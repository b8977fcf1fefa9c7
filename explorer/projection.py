"""2-D UMAP projection of the pool, seeded and cached.

UMAP pays ~35 s of numba compilation in every new process, so the app never computes it on start:
``project`` writes the coordinates next to the embeddings and later calls only read them.
For large pools UMAP is fitted on a random sample and the other rows are ``transform``-ed in
chunks, with a progress bar.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .exceptions import ParameterError

DEFAULTS = dict(n_neighbors=15, min_dist=0.1, metric="cosine")


def projection_key(data_key: str, random_state, fit_sample_threshold, fit_sample_size, params) -> str:
    blob = json.dumps([data_key, random_state, fit_sample_threshold, fit_sample_size,
                       sorted(params.items())], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def project(X, random_state=0, *, fit_sample_threshold=50_000, fit_sample_size=20_000,
            cache_path=None, show_progress=True, chunk_size=10_000, **umap_params):
    """Project unit embeddings to 2-D with UMAP.

    Parameters
    ----------
    X : array of shape (n, d)
    random_state : int
        Seed for UMAP and for the fit sample; the same seed gives the same coordinates.
    fit_sample_threshold : int
        Pools larger than this are fitted on a sample of ``fit_sample_size`` rows; the rest are
        transformed.
    fit_sample_size : int
    cache_path : str or Path, optional
        ``.npy`` file: read when it exists, written (atomically) otherwise.
    show_progress : bool
    **umap_params
        Passed to ``umap.UMAP`` (defaults: n_neighbors=15, min_dist=0.1, metric="cosine").

    Returns
    -------
    float32 ndarray of shape (n, 2)
    """
    if cache_path is not None and Path(cache_path).exists():
        return np.load(cache_path, allow_pickle=False)
    X = np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    if fit_sample_size < 2 or fit_sample_threshold < 2:
        raise ParameterError(
            f"fit_sample_size={fit_sample_size} and fit_sample_threshold={fit_sample_threshold} "
            "must be >= 2"
        )
    if n < 3:
        raise ParameterError(f"UMAP needs at least 3 rows, the pool has {n}")
    import warnings

    import umap
    from tqdm.auto import tqdm

    params = {**DEFAULTS, **umap_params}
    params["n_neighbors"] = min(params["n_neighbors"], n - 1)
    # a seed makes UMAP single-threaded (and reproducible); say so once, not as a warning
    params.setdefault("n_jobs", 1)
    reducer = umap.UMAP(n_components=2, random_state=random_state, **params)
    coords = np.empty((n, 2), dtype=np.float32)
    with warnings.catch_warnings(), \
            tqdm(total=n, desc="UMAP", unit="row", disable=not show_progress) as bar:
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        if n <= fit_sample_threshold:
            coords[:] = reducer.fit_transform(X)
            bar.update(n)
        else:
            rng = np.random.default_rng(random_state)
            fit_rows = np.sort(rng.choice(n, size=min(fit_sample_size, n), replace=False))
            coords[fit_rows] = reducer.fit_transform(X[fit_rows])
            bar.update(len(fit_rows))
            rest = np.setdiff1d(np.arange(n), fit_rows)
            for start in range(0, len(rest), chunk_size):
                rows = rest[start:start + chunk_size]
                coords[rows] = reducer.transform(X[rows])
                bar.update(len(rows))
    if cache_path is not None:
        from ._io import save_array

        save_array(Path(cache_path), coords)
    return coords
