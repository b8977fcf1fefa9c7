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


#: values of ``project(placement=...)``
PLACEMENTS = ("transform", "neighbours")


def project(X, random_state=0, *, fit_sample_threshold=50_000, fit_sample_size=20_000,
            cache_path=None, show_progress=True, chunk_size=10_000, client=None,
            placement="transform", quality_sample=0, **umap_params):
    """Project unit embeddings to 2-D with UMAP.

    Parameters
    ----------
    X : array of shape (n, d)
        Any float dtype (float16 is cast to float32 per chunk); may be memory-mapped.
    random_state : int
        Seed for UMAP and for the fit sample; the same seed gives the same coordinates.
    fit_sample_threshold : int
        Pools larger than this are fitted on a sample of ``fit_sample_size`` rows; the rest are
        transformed.
    fit_sample_size : int
    cache_path : str or Path, optional
        ``.npy`` file: read when it exists, written (atomically) otherwise.
    show_progress : bool
    chunk_size : int
        Rows per ``transform`` call (per Dask task with ``client``).
    client : distributed.Client, optional
        Transform the rows outside the fit sample on this Dask cluster's workers, one chunk per
        task (the fit stays here). Same chunks and seed as without a client, so the same result.
    placement : {"transform", "neighbours"}
        How the rows outside the fit sample are placed: ``"transform"``, UMAP's own
        ``transform``; ``"neighbours"``, :func:`place_by_neighbours` (the similarity-weighted
        mean of the UMAP coordinates of each row's nearest fit-sample rows, by matrix
        products; docs/benchmarks.md has both costs per row at 10M).
    quality_sample : int
        With ``placement="neighbours"`` and a ``cache_path``: also place this many rows outside
        the fit sample with UMAP's ``transform`` and write both placements' trustworthiness
        and k-NN overlap (:func:`placement_quality`) to ``<cache_path>.json``.
    **umap_params
        Passed to ``umap.UMAP`` (defaults: n_neighbors=15, min_dist=0.1, metric="cosine").

    Returns
    -------
    float32 ndarray of shape (n, 2)
    """
    if cache_path is not None and Path(cache_path).exists():
        return np.load(cache_path, allow_pickle=False)
    X = X if hasattr(X, "shape") else np.asarray(X, dtype=np.float32)
    n = X.shape[0]
    if fit_sample_size < 2 or fit_sample_threshold < 2:
        raise ParameterError(
            f"fit_sample_size={fit_sample_size} and fit_sample_threshold={fit_sample_threshold} "
            "must be >= 2"
        )
    if n < 3:
        raise ParameterError(f"UMAP needs at least 3 rows, the pool has {n}")
    if placement not in PLACEMENTS:
        raise ParameterError(f"placement={placement!r} is unknown; use one of "
                             f"{', '.join(PLACEMENTS)}")
    import warnings

    import umap

    from .progress import bar as progress_bar

    params = {**DEFAULTS, **umap_params}
    params["n_neighbors"] = min(params["n_neighbors"], n - 1)
    # a seed makes UMAP single-threaded (and reproducible); say so once, not as a warning
    params.setdefault("n_jobs", 1)
    reducer = umap.UMAP(n_components=2, random_state=random_state, **params)
    coords = np.empty((n, 2), dtype=np.float32)
    with warnings.catch_warnings(), \
            progress_bar(total=n, desc="UMAP", unit="row", show=show_progress) as bar:
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        if n <= fit_sample_threshold:
            coords[:] = reducer.fit_transform(np.asarray(X, dtype=np.float32))
            bar.update(n)
        else:
            rng = np.random.default_rng(random_state)
            fit_rows = np.sort(rng.choice(n, size=min(fit_sample_size, n), replace=False))
            # rows are read (and cast to float32) per chunk: a memory-mapped or float16 pool
            # is never copied whole
            coords[fit_rows] = reducer.fit_transform(np.asarray(X[fit_rows], dtype=np.float32))
            bar.update(len(fit_rows))
            rest = np.setdiff1d(np.arange(n), fit_rows)
            if placement == "neighbours":
                report = _place_rest(X, fit_rows, rest, coords, reducer, random_state,
                                     quality_sample, bar)
                rest = rest[:0]
                if report is not None and cache_path is not None:
                    from ._io import write_atomic

                    write_atomic(Path(str(cache_path) + ".json"),
                                 lambda tmp: tmp.write_text(json.dumps(report, indent=1)))
            elif client is not None:
                from .distributed import transform_partitioned

                coords[rest] = transform_partitioned(reducer, X[rest], client, chunk_size,
                                                     on_rows=bar.update)
            for start in range(0, len(rest) if client is None else 0, chunk_size):
                rows = rest[start:start + chunk_size]
                coords[rows] = reducer.transform(np.asarray(X[rows], dtype=np.float32))
                bar.update(len(rows))
    if cache_path is not None:
        from ._io import save_array

        save_array(Path(cache_path), coords)
    return coords


def _place_rest(X, fit_rows, rest, coords, reducer, random_state, quality_sample, bar):
    """Place ``rest`` by :func:`place_by_neighbours` into ``coords``; the quality report or None."""
    import time

    fit_X = np.asarray(X[fit_rows], dtype=np.float32)
    t0 = time.perf_counter()
    coords[rest] = place_by_neighbours(X, rest, fit_X, coords[fit_rows],
                                       random_state=random_state, on_rows=bar.update)
    seconds = time.perf_counter() - t0
    if not quality_sample:
        return None
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(rest, size=min(int(quality_sample), len(rest)), replace=False))
    Xq = np.asarray(X[rows], dtype=np.float32)
    t0 = time.perf_counter()
    umap_coords = reducer.transform(Xq).astype(np.float32)
    umap_seconds = time.perf_counter() - t0
    quality = placement_quality(Xq, {"neighbours": coords[rows], "umap_transform": umap_coords})
    return {"rows": int(len(X)), "fit_sample": int(len(fit_rows)), "placed": int(len(rest)),
            "placement_seconds": seconds, "quality_sample": int(len(rows)),
            "umap_transform_seconds_on_quality_sample": umap_seconds,
            "umap_transform_seconds_per_row": umap_seconds / max(len(rows), 1),
            "quality": quality}


def _row_normals(ids, seed):
    """Two standard normals per row id, a pure function of (id, seed): the same values whatever
    the blocks the rows are placed in (splitmix64 -> two uniforms -> Box-Muller)."""
    with np.errstate(over="ignore"):
        z = np.asarray(ids, np.uint64) * np.uint64(2) + np.uint64(int(seed) & 0xFFFFFFFF) * \
            np.uint64(0x9E3779B97F4A7C15)
        out = []
        for _ in range(2):
            z = z + np.uint64(0x9E3779B97F4A7C15)
            v = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            v = (v ^ (v >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            v = v ^ (v >> np.uint64(31))
            out.append(((v >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53))
    r = np.sqrt(-2.0 * np.log(out[0]))
    return np.stack([r * np.cos(2 * np.pi * out[1]), r * np.sin(2 * np.pi * out[1])], axis=1)


def place_by_neighbours(X, rows, fit_X, fit_coords, *, n_neighbors=10, nlist=None, jitter=0.5,
                        random_state=0, block_rows=65_536, on_rows=None):
    """2-D coordinates of ``X[rows]`` from the layout of a fitted sample, by nearest neighbours.

    Each row is placed at the similarity-weighted mean of the coordinates of its
    ``n_neighbors`` most similar sample rows (the weights of UMAP's own ``transform``
    initialisation: ``exp(-(d - d_1) / mean(d - d_1))`` over cosine distances ``d``), plus a
    seeded jitter of ``jitter`` times the weighted spread of those neighbours' coordinates (so
    rows sharing neighbours do not stack on one pixel; a pure function of the row id and seed).

    The neighbours are searched with matrix products only (BLAS; FAISS's per-query IVF scan
    measured 3-8x slower here): the sample is clustered into ``nlist`` spherical k-means lists,
    each sample row joins the lists of its 2 nearest centroids, and a row is compared with the
    members of its nearest centroid's list (``nlist + 2 m / nlist`` dot products a row).
    ``X`` is read ``block_rows`` rows at a time.

    Parameters
    ----------
    X : array (n, d), float32 or float16, possibly memory-mapped
        Unit rows.
    rows : int array (r,)
        Rows of ``X`` to place (sorted rows are read as contiguous ranges).
    fit_X : float32 array (m, d)
        The fitted sample's vectors.
    fit_coords : float32 array (m, 2)
        Their coordinates.
    n_neighbors : int
    nlist : int, optional
        Default: ``sqrt(2 m)`` rounded to a power of two.
    jitter : float
    random_state : int
    block_rows : int
    on_rows : callable(int), optional
        Called with the number of rows placed after each block (a progress bar's ``update``).

    Returns
    -------
    float32 array (r, 2)
    """
    import math

    import faiss

    from .exact import rows_float32

    rows = np.asarray(rows, dtype=np.int64)
    fit_X = np.ascontiguousarray(fit_X, dtype=np.float32)
    fit_coords = np.asarray(fit_coords, dtype=np.float64)
    m, d = fit_X.shape
    nlist = int(nlist or max(1, min(m // 4, 2 ** round(math.log2(math.sqrt(2 * m))))))
    km = faiss.Kmeans(d, nlist, niter=20, seed=int(random_state or 0) + 1, spherical=True,
                      verbose=False, max_points_per_centroid=256)
    km.train(fit_X)
    centroids = np.ascontiguousarray(km.centroids, dtype=np.float32)
    near = np.argsort(-(fit_X @ centroids.T), axis=1)[:, :min(2, nlist)]
    members = [np.flatnonzero((near == c).any(axis=1)) for c in range(nlist)]
    out = np.empty((len(rows), 2), np.float32)
    for start in range(0, len(rows), int(block_rows)):
        ids = rows[start:start + int(block_rows)]
        lo, hi = int(ids.min()), int(ids.max()) + 1
        if hi - lo <= 2 * len(ids):  # sorted rows with a few gaps: read the range, keep the rows
            block = rows_float32(X, lo, hi)[ids - lo]
        else:
            block = rows_float32(np.asarray(X[ids]), 0, len(ids))
        home = np.argmax(block @ centroids.T, axis=1)
        mean = np.empty((len(ids), 2))
        spread = np.empty(len(ids))
        for c in np.unique(home):
            r = np.flatnonzero(home == c)
            mem = members[c] if members[c].size else np.arange(m)
            k = int(min(n_neighbors, mem.size))
            S = block[r] @ fit_X[mem].T
            top = np.argpartition(-S, k - 1, axis=1)[:, :k] if k < mem.size else \
                np.broadcast_to(np.arange(mem.size), (len(r), mem.size))
            sims = np.take_along_axis(S, top, axis=1).astype(np.float64)
            dist = 1.0 - sims
            gap = dist - dist.min(axis=1, keepdims=True)
            w = np.exp(-gap / (gap.mean(axis=1, keepdims=True) + 1e-6))
            w /= w.sum(axis=1, keepdims=True)
            nbc = fit_coords[mem[top]]  # (len(r), k, 2)
            mu = np.einsum("bk,bkc->bc", w, nbc)
            mean[r] = mu
            spread[r] = np.sqrt(np.einsum("bk,bkc->b", w, (nbc - mu[:, None, :]) ** 2) / 2)
        out[start:start + len(ids)] = mean + jitter * spread[:, None] * _row_normals(
            ids, random_state)
        if on_rows is not None:
            on_rows(len(ids))
    return out


def knn_overlap(X, coords, k=10):
    """Mean share of each row's ``k`` cosine nearest neighbours in ``X`` that are also among its
    ``k`` nearest in ``coords`` (Euclidean), over the rows given (exact, O(n^2): a sample)."""
    X = np.asarray(X, dtype=np.float32)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Xn @ Xn.T
    np.fill_diagonal(S, -np.inf)
    high = np.argpartition(-S, k, axis=1)[:, :k]
    C = np.asarray(coords, dtype=np.float64)
    D = ((C[:, None, :] - C[None, :, :]) ** 2).sum(-1) if len(C) <= 2_000 else \
        (C ** 2).sum(1)[:, None] + (C ** 2).sum(1)[None, :] - 2 * C @ C.T
    np.fill_diagonal(D, np.inf)
    low = np.argpartition(D, k, axis=1)[:, :k]
    hits = [np.intersect1d(a, b).size for a, b in zip(high, low)]
    return float(np.mean(hits) / k)


def placement_quality(X, layouts, k=10):
    """Trustworthiness (``sklearn.manifold.trustworthiness``, cosine) and :func:`knn_overlap`
    at ``k`` of each 2-D layout of the rows ``X``: ``{name: {"trustworthiness", "knn_overlap"}}``."""
    from sklearn.manifold import trustworthiness

    X = np.asarray(X, dtype=np.float32)
    return {name: {"trustworthiness": float(trustworthiness(X, c, n_neighbors=k,
                                                            metric="cosine")),
                   "knn_overlap": knn_overlap(X, c, k), "k": k}
            for name, c in layouts.items()}
