"""A synthetic pool for trying the explorer at scale (``anchoral serve synthetic:1000000``).

Clustered 384-d unit vectors with rare minority clusters from :func:`explorer.synthetic.make_pool`
(the size of all-MiniLM-L6-v2 vectors; no real 1M-text corpus ships with the project), projected
to 2-D by the real UMAP path (:func:`explorer.projection.project`: fit on a sample, ``transform``
of the rest), wrapped as a :class:`~explorer.prepare.Prepared` so the app, the engine and the map
take it like any pool. With a ``cache_dir`` the vectors are written once to a ``.npy`` file and
memory-mapped (float32, or float16 to halve the memory), and the coordinates are cached: only
the first serve pays the generation and UMAP.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from ..exceptions import ParameterError

PREFIX = "synthetic:"
#: values of ``synthetic_prepared(projection=...)``
PROJECTIONS = ("umap", "generated")


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


def _pool_kwargs(n, dim, minority_share):
    return dict(dim=dim, n_clusters=min(200, max(8, n // 200)), n_minority_clusters=4,
                minority_share=minority_share)


def _generate(n, dim, minority_share, random_state, dtype, cache):
    """``(X, y, generated_coords)``; X memory-mapped from ``cache`` when one is given."""
    from ..embed import check_dtype
    from ..synthetic import make_pool

    dtype = check_dtype(dtype)
    kw = _pool_kwargs(n, dim, minority_share)
    if cache is None:
        return make_pool(n, random_state=random_state, dtype=dtype, **kw)
    emb, lab, gen = (cache / f"embeddings-{dtype.name}.npy", cache / "labels.npy",
                     cache / "generated-coords.npy")
    if not (emb.exists() and lab.exists() and gen.exists()):
        from .._io import save_array

        cache.mkdir(parents=True, exist_ok=True)
        tmp = emb.with_name(f".{emb.name}.tmp")
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(n, dim))
        _, y, coords = make_pool(n, random_state=random_state, dtype=dtype, out=out, **kw)
        out.flush()
        del out
        save_array(lab, y)
        save_array(gen, coords.astype(np.float32))
        tmp.replace(emb)
    return (np.load(emb, mmap_mode="r", allow_pickle=False),
            np.load(lab, allow_pickle=False), np.load(gen, allow_pickle=False))


def synthetic_prepared(n=100_000, options=None, *, dim=384, minority_share=0.02, texts=None,
                       projection="umap", progress=False, **keywords):
    """A :class:`~explorer.prepare.Prepared` pool of ``n`` synthetic rows, two classes.

    Parameters
    ----------
    n : int
        Rows.
    dim : int
        Embedding dimension (384, as all-MiniLM-L6-v2).
    minority_share : float
        Share of the minority class ("rare").
    options : PrepareOptions, optional
        The pool's options (:class:`~explorer.options.PrepareOptions`); ``keywords`` (any of
        its fields) are applied over them. Read here: ``random_state`` (seed of the vectors
        and of UMAP), ``index`` (:func:`explorer.index.build_index`), ``cache_dir`` and
        ``embeddings_dtype`` (below).
    texts : sequence of str, optional
        Texts to cycle through instead of the generated ones (e.g. hostile markup in tests).
    projection : {"umap", "generated"}
        ``"umap"``: 2-D coordinates by :func:`explorer.projection.project` (fitted on a sample
        of 20,000 rows above 50,000 rows, the rest transformed), as for a real pool.
        ``"generated"``: the generator's own 2-D layout (no UMAP; fast, for tests).
    cache_dir : str or Path, optional
        Cache root: vectors, labels and coordinates go to ``<cache_dir>/synthetic/<key>/`` and
        are memory-mapped / read on later calls. None: everything in memory, nothing written.
    embeddings_dtype : {"float32", "float16"}
        Storage type of the vectors (float16 halves their memory; search and models read them
        as float32 blocks).
    progress : bool
        Progress bar for UMAP.
    """
    from ..data import Dataset
    from ..index import build_index
    from ..options import PrepareOptions
    from ..prepare import Prepared
    from ..projection import project

    options = PrepareOptions.of(options, **keywords)
    index, cache_dir = options.index, options.cache_dir
    random_state, embeddings_dtype = options.random_state, options.embeddings_dtype

    if projection not in PROJECTIONS:
        raise ParameterError(f"projection={projection!r} is unknown; use one of "
                             f"{', '.join(PROJECTIONS)}")
    key = hashlib.sha256(f"synthetic-{n}-{dim}-{random_state}-{minority_share}".encode())
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir).expanduser() / "synthetic" / key.hexdigest()[:16]
    timings, sources = {}, {}
    t0 = time.perf_counter()
    hit = cache is not None and (cache / f"embeddings-{np.dtype(embeddings_dtype).name}.npy"
                                 ).exists()
    X, y, gen_coords = _generate(n, dim, minority_share, random_state, embeddings_dtype, cache)
    timings["generate"] = time.perf_counter() - t0
    sources["embeddings"] = f"synthetic {dim}-d {X.dtype.name} ({'cache' if hit else 'generated'})"
    if texts is None:
        words = ("offer", "meeting", "report", "free", "win", "schedule", "prize", "project",
                 "invoice", "lunch", "urgent", "update")
        texts = np.array([f"synthetic row {i}: {words[i % len(words)]} "
                          f"{'rare' if y[i] else 'common'}" for i in range(n)], dtype=object)
    else:
        texts = np.array([texts[i % len(texts)] for i in range(n)], dtype=object)
    dataset = Dataset(texts=texts, y=y.astype(np.int64), classes=("common", "rare"),
                      minority=(1,), minority_inferred=False, name=f"synthetic-{n}",
                      content_hash=key.hexdigest(), source=f"{PREFIX}{n}")
    t0 = time.perf_counter()
    nn = build_index(X, kind=index, cache_dir=cache)
    timings["index"] = time.perf_counter() - t0
    if projection == "generated":
        coords = gen_coords.astype(np.float32)
        sources["coords"] = "synthetic (generated layout, no UMAP)"
    else:
        t0 = time.perf_counter()
        path = None if cache is None else cache / f"umap-{random_state}.npy"
        sources["coords"] = "UMAP (cache)" if path is not None and path.exists() else \
            "UMAP (computed)"
        coords = project(X, random_state=random_state, cache_path=path, show_progress=progress)
        timings["project"] = time.perf_counter() - t0
    return Prepared(dataset=dataset, embeddings=X, coords=coords, index=nn,
                    cache_dir=cache if cache is not None else Path("."), timings=timings,
                    sources=sources, options=options)
