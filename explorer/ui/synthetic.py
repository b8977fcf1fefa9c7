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


#: pools above this many rows are "large": float16 vectors by default, the compressed index
#: (``index="auto"``), and the layout below
LARGE = 2_000_000
#: the layout of a large pool: UMAP fitted on 50,000 rows, the rest placed through their
#: nearest fitted rows (:func:`explorer.projection.place_by_neighbours`), quality measured on
#: 5,000 rows against UMAP's own ``transform`` (``<coords>.npy.json``)
LARGE_LAYOUT = dict(fit_sample_size=50_000, placement="neighbours", quality_sample=5_000)

_WORDS = ("offer", "meeting", "report", "free", "win", "schedule", "prize", "project",
          "invoice", "lunch", "urgent", "update")


class SyntheticTexts:
    """The texts of a synthetic pool, made when read (``texts[i]``, ``texts[ids]``, ``len``).

    Row ``i`` reads ``"synthetic row i: <word> rare|common"``. Held as the label array only: a
    10M-row pool's texts as Python strings would cost ~1 GB and ~10 s at every start.
    """

    def __init__(self, y):
        self._y = np.asarray(y)

    def __len__(self):
        return len(self._y)

    def _text(self, i):
        return f"synthetic row {i}: {_WORDS[i % len(_WORDS)]} " \
               f"{'rare' if self._y[i] else 'common'}"

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -len(self) <= i < len(self):
                raise IndexError(f"row {i} is outside the pool of {len(self)} rows")
            return self._text(i % len(self))
        ids = np.arange(len(self))[key] if isinstance(key, slice) else np.asarray(key)
        if ids.dtype == bool:
            ids = np.flatnonzero(ids)
        ids = np.where(ids < 0, ids + len(self), ids)
        out = np.empty(ids.shape, dtype=object)
        out.ravel()[:] = [self._text(int(i)) for i in ids.ravel()]
        return out

    def __iter__(self):
        return (self._text(i) for i in range(len(self)))

    def __array__(self, dtype=None, copy=None):
        return self[np.arange(len(self))]


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
        from .._io import NpyBlockWriter, save_array, write_atomic

        made = {}

        def write(tmp):  # block by block with plain writes: RSS stays at one block's size
            with NpyBlockWriter(tmp, (n, dim), dtype) as out:
                _, made["y"], made["coords"] = make_pool(n, random_state=random_state,
                                                         dtype=dtype, out=out, **kw)

        cache.mkdir(parents=True, exist_ok=True)
        write_atomic(emb, write)
        save_array(lab, made["y"])
        save_array(gen, made["coords"].astype(np.float32))
    return (np.load(emb, mmap_mode="r", allow_pickle=False),
            np.load(lab, allow_pickle=False), np.load(gen, allow_pickle=False))


def layout_path(cache, n, random_state) -> Path:
    """The cached UMAP coordinates of the ``n``-row pool in ``cache`` (its quality report, for a
    large pool, is this path + ``.json``)."""
    layout = LARGE_LAYOUT if n > LARGE else {}
    return Path(cache) / ("".join([f"umap-{random_state}", *(f"-{v}" for v in layout.values())])
                          + ".npy")


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
    embeddings_dtype : {"auto", "float32", "float16"}
        Storage type of the vectors (float16 halves their memory; search and models read them
        as float32 blocks). ``"auto"``: float16 above ``LARGE`` rows, else float32.
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
    from ..embed import resolve_dtype

    embeddings_dtype = resolve_dtype(embeddings_dtype, n).name  # "auto": float16 above 2M rows
    hit = cache is not None and (cache / f"embeddings-{np.dtype(embeddings_dtype).name}.npy"
                                 ).exists()
    X, y, gen_coords = _generate(n, dim, minority_share, random_state, embeddings_dtype, cache)
    timings["generate"] = time.perf_counter() - t0
    sources["embeddings"] = f"synthetic {dim}-d {X.dtype.name} ({'cache' if hit else 'generated'})"
    if texts is None:
        texts = SyntheticTexts(y)
    else:
        texts = np.array([texts[i % len(texts)] for i in range(n)], dtype=object)
    dataset = Dataset(texts=texts, y=y.astype(np.int64), classes=("common", "rare"),
                      minority=(1,), minority_inferred=False, name=f"synthetic-{n}",
                      content_hash=key.hexdigest(), source=f"{PREFIX}{n}")
    t0 = time.perf_counter()
    # a large pool's index is keyed by the generator's parameters, not by hashing 7.7 GB per start
    nn = build_index(X, kind=index, cache_dir=cache,
                     key=f"{key.hexdigest()[:16]}-{X.dtype.name}" if n > LARGE else None)
    timings["index"] = time.perf_counter() - t0
    if projection == "generated":
        coords = gen_coords.astype(np.float32)
        sources["coords"] = "synthetic (generated layout, no UMAP)"
    else:
        t0 = time.perf_counter()
        path = None if cache is None else layout_path(cache, n, random_state)
        sources["coords"] = "UMAP (cache)" if path is not None and path.exists() else \
            "UMAP (computed)"
        coords = project(X, random_state=random_state, cache_path=path, show_progress=progress,
                         **(LARGE_LAYOUT if n > LARGE else {}))
        timings["project"] = time.perf_counter() - t0
    return Prepared(dataset=dataset, embeddings=X, coords=coords, index=nn,
                    cache_dir=cache if cache is not None else Path("."), timings=timings,
                    sources=sources, options=options)
