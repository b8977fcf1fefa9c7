"""Nearest-neighbour search over unit embeddings, in global row ids, with cosine similarity.

One interface, :class:`NeighborIndex`, three implementations:

* ``"exact"`` — blocked matrix products through BLAS (``sgemm``) over a *reference* to the
  embeddings (memory-mapped and float16 arrays included: no second copy), with the excluded rows
  as a boolean mask and top-k by partial selection per block, merged across blocks;
* ``"ivf"``   — FAISS ``IndexIVFFlat``, trained on a sample of the rows; ``nprobe`` is calibrated
  at build time against exact search so that recall@k reaches ``target_recall`` (0.95);
* ``"ivfpq"`` — FAISS ``IndexIVFPQ``: compressed codes (96 B a row) for pools too large to copy
  (10M rows), each query's candidates reranked by exact dot products over the embeddings;
* ``"hnsw"``  — FAISS ``IndexHNSWFlat`` (inner product); ``efSearch`` calibrated the same way.

``build_index(X, kind="auto")`` picks exact up to ``AUTO_EXACT_MAX`` rows, IVF-PQ above
``AUTO_COMPRESSED_MIN`` and IVF between (the measured crossover, docs/benchmarks.md section 3), unless the calibrated IVF must scan more than
``AUTO_IVF_MAX_SCAN`` of its lists, where exact search is as fast. Given a ``cache_dir``, an approximate index is
saved there in FAISS's own binary format (``faiss.write_index``), keyed by a hash of the
embeddings, its kind and its parameters, and read back instead of rebuilt next time.
Every index reports its choice through :meth:`NeighborIndex.describe`.

Ties: exact search returns equal similarities in ascending row id order.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .exact import rows_float32
from .exceptions import ParameterError
from .rowio import take
from .index_base import (  # noqa: F401  (re-exported: explorer.index is the public module)
    _FORMAT, ExactIndex, NeighborIndex, _add_in_blocks, _as_pool, _as_queries, _Calibrated, _faiss,
    _jsonable, _recall, default_nlist, fingerprint,
)

#: ``kind="auto"``: pools up to this many rows use exact search. Measured crossover, 20 anchors,
#: k = 50, one thread: exact is faster at 5,000 rows (6.1 vs 8.3 ms), IVF from 10,000 (2.1 vs
#: 10.7 ms); docs/benchmarks.md section 3
AUTO_EXACT_MAX = 7_500

#: ``kind="auto"`` above ``AUTO_EXACT_MAX``: keep exact search when the calibrated IVF scans more
#: than this share of the lists per query (``nprobe / nlist``). An IVF list scan costs ~6x an
#: exact (BLAS) row per query on one core, so past ~0.15 exact search is as fast, and exact.
AUTO_IVF_MAX_SCAN = 0.15

KINDS = ("auto", "exact", "ivf", "ivfpq", "hnsw")

#: ``kind="auto"``: pools above this many rows use the compressed ``"ivfpq"`` index (an
#: ``IndexIVFFlat`` holds a float32 copy of every row: 1.5 GB at 1M rows, 15.4 GB at 10M)
AUTO_COMPRESSED_MIN = 2_000_000


class IVFIndex(_Calibrated):
    """Approximate search: FAISS ``IndexIVFFlat`` (inner product) with a calibrated ``nprobe``.

    ``nlist`` defaults to :func:`default_nlist`; the coarse centroids are trained (``niter``
    k-means iterations) on a seeded sample of ``train_per_list * nlist`` rows, not on all rows.
    """

    kind = "ivf"
    _STATE = ("nlist_", "nprobe_", "recall_", "calibration_", "n_train_")

    def __init__(self, nlist=None, nprobe=None, target_recall=0.95, calibration_k=50,
                 n_calibration=200, random_state=0, train_per_list=40, niter=10):
        super().__init__(target_recall, calibration_k, n_calibration, random_state)
        self.nlist = nlist
        self.nprobe = nprobe
        self.train_per_list = train_per_list
        self.niter = niter

    def _build(self, X):
        faiss = _faiss()
        n, d = X.shape
        nlist = int(self.nlist or default_nlist(n))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True  # the index frees its quantizer
        quantizer.this.disown()
        rng = np.random.default_rng(self.random_state)
        n_train = int(min(n, max(self.train_per_list, 1) * nlist))
        rows = np.sort(rng.choice(n, size=n_train, replace=False)) if n_train < n else slice(None)
        index.cp.seed = int(self.random_state or 0)
        index.cp.niter = int(self.niter)
        index.cp.max_points_per_centroid = max(int(self.train_per_list), 1)
        index.train(np.ascontiguousarray(np.asarray(X[rows], np.float32)))
        _add_in_blocks(index, X)
        self.nlist_, self.n_train_ = nlist, n_train

        def set_knob(ix, value):
            ix.nprobe = int(value)

        if self.nprobe is not None:
            self.nprobe_ = int(self.nprobe)
            self.recall_ = None
        else:
            grid = sorted({p for p in (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256,
                                       384, 512) if p <= nlist} | {nlist})
            self.nprobe_, self.recall_ = self._calibrate(X, index, grid, set_knob)
        index.nprobe = self.nprobe_
        return index

    def _after_load(self):
        self.index_.nprobe = int(self.nprobe_)

    def _search_params(self, selector, widen=1):
        nprobe = self.nprobe_ * widen
        if widen > 1 and self.nprobe_ * widen // 2 >= self.nlist_:
            return None
        return _faiss().SearchParametersIVF(sel=selector, nprobe=int(min(nprobe, self.nlist_)))

    def describe(self):
        rec = f", calibrated recall@{self.calibration_k}={self.recall_:.3f}" if self.recall_ else ""
        return (f"ivf (FAISS IndexIVFFlat, nlist={self.nlist_}, nprobe={self.nprobe_}{rec}, "
                f"{self.n_:,} x {self.dim_})")


class IVFPQIndex(_Calibrated):
    """Compressed approximate search for pools too large to copy: FAISS ``IndexIVFPQ`` (inner
    product) whose candidates are reranked by exact dot products over the embeddings.

    The rows are stored as ``m``-byte product-quantization codes of their residuals to ``nlist``
    coarse centroids (96 B + an 8 B id per row: 1.0 GB at 10M rows, against 15.4 GB for an
    ``IndexIVFFlat`` copy of the float32 rows). Centroids and codebooks are trained on a seeded
    sample of ``n_train`` rows, the rows are added block by block from ``X`` (memory-mapped
    float16 stays on disk), and a search takes the ``rerank`` best candidates by the codes, reads
    those rows of ``X`` and keeps the ``k`` best by their exact inner products. The codes alone
    rank poorly inside a dense cluster (recall@50 0.56 on 1,000-row clusters, measured), the
    reranking brings recall@50 above 0.95; ``nprobe`` is calibrated as for :class:`IVFIndex`.
    The index holds a reference to ``X`` for the reranking (no copy).

    Parameters
    ----------
    nlist : int, optional
        Coarse lists (default :func:`default_nlist`, at most 1,024: each coarse assignment costs
        ``nlist`` dot products per row at build time).
    m : int, default 96
        Bytes per code (sub-quantizers of ``d / m`` dimensions, 8 bits each); must divide ``d``.
    rerank : int, default 1000
        Candidates per query reranked exactly (``max(k, rerank)``).
    nprobe : int, optional
        Fixed lists to scan; default calibrated to ``target_recall``.
    n_train : int, default 65536
        Training sample (coarse centroids and PQ codebooks).
    """

    kind = "ivfpq"
    _STATE = ("nlist_", "nprobe_", "recall_", "calibration_", "n_train_")

    def __init__(self, nlist=None, m=96, rerank=1000, nprobe=None, n_train=65_536,
                 target_recall=0.95, calibration_k=50, n_calibration=200, random_state=0):
        super().__init__(target_recall, calibration_k, n_calibration, random_state)
        self.nlist = nlist
        self.m = m
        self.rerank = rerank
        self.nprobe = nprobe
        self.n_train = n_train

    def _build(self, X):
        faiss = _faiss()
        n, d = X.shape
        m = int(self.m)
        if m < 1 or d % m:
            raise ParameterError(f"m={self.m} must divide the {d} dimensions (e.g. 48 or 96 "
                                 "for 384-d vectors)")
        nlist = int(self.nlist or min(default_nlist(n), 1024))
        self.X_ = X
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFPQ(quantizer, d, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
        index.own_fields = True
        quantizer.this.disown()
        rng = np.random.default_rng(self.random_state)
        n_train = int(min(n, max(int(self.n_train), nlist, 256)))
        rows = np.sort(rng.choice(n, size=n_train, replace=False)) if n_train < n else slice(None)
        index.cp.seed = int(self.random_state or 0)
        index.pq.cp.seed = int(self.random_state or 0)
        index.train(np.ascontiguousarray(np.asarray(X[rows], np.float32)))
        _add_in_blocks(index, X)
        self.nlist_, self.n_train_ = nlist, n_train

        def set_knob(ix, value):
            ix.nprobe = int(value)

        if self.nprobe is not None:
            self.nprobe_, self.recall_ = int(self.nprobe), None
        else:
            self.index_ = index
            grid = sorted({p for p in (4, 8, 12, 16, 24, 32, 48, 64, 96, 128) if p <= nlist}
                          | {min(nlist, 128)})

            def search(q, k):
                self.nprobe_ = index.nprobe
                return self._search(q, k, None)

            self.nprobe_, self.recall_ = self._calibrate(X, index, grid, set_knob, search)
        index.nprobe = self.nprobe_
        return index

    def attach(self, X):
        """Give a loaded index the embeddings it reranks over (same shape as at build time)."""
        self.X_ = X
        return self

    def _after_load(self):
        self.index_.nprobe = int(self.nprobe_)

    def _search_params(self, selector, widen=1):
        nprobe = self.nprobe_ * widen
        if widen > 1 and self.nprobe_ * widen // 2 >= self.nlist_:
            return None
        return _faiss().SearchParametersIVF(sel=selector, nprobe=int(min(nprobe, self.nlist_)))

    def _search(self, q, k, mask):
        wide = int(min(max(k, int(self.rerank)), self.n_))
        _, cand = super()._search(q, wide, mask)
        return rerank_exact(self.X_, q, cand, k)

    def describe(self):
        rec = f", calibrated recall@{self.calibration_k}={self.recall_:.3f}" if self.recall_ else ""
        return (f"ivfpq (FAISS IndexIVFPQ, nlist={self.nlist_}, PQ{self.m}, nprobe={self.nprobe_}, "
                f"top {self.rerank} reranked exactly{rec}, {self.n_:,} x {self.dim_})")


def rerank_exact(X, q, cand, k, chunk=65_536):
    """The ``k`` best of each query's candidate rows by exact inner product over ``X``.

    Parameters
    ----------
    X : float32 or float16 array (n, d), possibly memory-mapped
        Only the candidate rows are read (in ascending row order, per chunk of candidates).
    q : float32 array (nq, d)
    cand : int64 array (nq, c)
        Candidate ids per query, ``-1`` for none.
    k : int

    Returns
    -------
    sims : float32 (nq, k), ids : int64 (nq, k)
        Best first, equal similarities in ascending id order; ``-inf`` / ``-1`` padding.
    """
    nq, c = cand.shape
    sims = np.full((nq, c), -np.inf, np.float32)
    flat = cand.ravel()
    valid = np.flatnonzero(flat >= 0)
    per = max(1, chunk)
    for start in range(0, valid.size, per):
        pos = valid[start:start + per]
        pos = pos[np.argsort(flat[pos], kind="stable")]  # read the rows in file order
        rows = take(X, flat[pos])  # a memory map's pages are not kept (rowio.py)
        rows = rows if rows.dtype == np.float32 else rows_float32(rows, 0, len(rows))
        sims.ravel()[pos] = np.einsum("ij,ij->i", rows, q[pos // c])
    key_ids = np.where(cand >= 0, cand, np.iinfo(np.int64).max)
    order = np.lexsort((key_ids, -sims), axis=-1)[:, :k]
    top_s = np.take_along_axis(sims, order, axis=1)
    top_i = np.take_along_axis(cand, order, axis=1)
    top_i = np.where(np.isneginf(top_s), -1, top_i)
    if top_s.shape[1] < k:
        pad = k - top_s.shape[1]
        top_s = np.hstack([top_s, np.full((nq, pad), -np.inf, np.float32)])
        top_i = np.hstack([top_i, np.full((nq, pad), -1, np.int64)])
    return top_s, top_i


class HNSWIndex(_Calibrated):
    """Approximate search: FAISS ``IndexHNSWFlat`` (inner product) with a calibrated ``efSearch``."""

    kind = "hnsw"
    _STATE = ("ef_search_", "recall_", "calibration_")

    def __init__(self, M=32, ef_construction=80, ef_search=None, target_recall=0.95,
                 calibration_k=50, n_calibration=200, random_state=0):
        super().__init__(target_recall, calibration_k, n_calibration, random_state)
        self.M = M
        self.ef_construction = ef_construction
        self.ef_search = ef_search

    def _build(self, X):
        faiss = _faiss()
        index = faiss.IndexHNSWFlat(X.shape[1], int(self.M), faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = int(self.ef_construction)
        _add_in_blocks(index, X)

        def set_knob(ix, value):
            ix.hnsw.efSearch = int(value)

        if self.ef_search is not None:
            self.ef_search_, self.recall_ = int(self.ef_search), None
        else:
            grid = (64, 96, 128, 192, 256, 384, 512)
            self.ef_search_, self.recall_ = self._calibrate(X, index, grid, set_knob)
        index.hnsw.efSearch = self.ef_search_
        return index

    def _after_load(self):
        self.index_.hnsw.efSearch = int(self.ef_search_)

    def _search_params(self, selector, widen=1):
        if widen > 8:
            return None
        return _faiss().SearchParametersHNSW(sel=selector, efSearch=self.ef_search_ * widen)

    def describe(self):
        rec = f", calibrated recall@{self.calibration_k}={self.recall_:.3f}" if self.recall_ else ""
        return (f"hnsw (FAISS IndexHNSWFlat, M={self.M}, efSearch={self.ef_search_}{rec}, "
                f"{self.n_:,} x {self.dim_})")


INDEXES = {"exact": ExactIndex, "ivf": IVFIndex, "ivfpq": IVFPQIndex, "hnsw": HNSWIndex}


def resolve_kind(kind, n) -> str:
    """``kind`` with ``"auto"`` replaced by the size rule for ``n`` rows (``"exact"`` up to
    ``AUTO_EXACT_MAX``, ``"ivf"`` up to ``AUTO_COMPRESSED_MIN`` (which :func:`build_index` may
    still turn down), else ``"ivfpq"``)."""
    if kind not in KINDS:
        raise ParameterError(f"index kind={kind!r} is unknown; choose one of {', '.join(KINDS)}")
    if kind == "auto":
        n = int(n)
        return "exact" if n <= AUTO_EXACT_MAX else "ivf" if n <= AUTO_COMPRESSED_MIN else "ivfpq"
    return kind


def index_path(cache_dir, key, kind, params) -> Path:
    """Where the cached ``kind`` index over the embeddings with hash ``key`` is kept."""
    blob = json.dumps({"format": _FORMAT, **_jsonable(params)}, sort_keys=True)
    tag = hashlib.sha256(blob.encode()).hexdigest()[:10]
    return Path(cache_dir) / "index" / f"{kind}-{key}-{tag}.faiss"


def build_index(X, kind="auto", *, cache_dir=None, key=None, **params) -> NeighborIndex:
    """Build a :class:`NeighborIndex` over ``X`` (or read it from the cache).

    Parameters
    ----------
    X : array of shape (n, d)
        Unit embeddings (float32 or float16, possibly memory-mapped); row i gets global id i.
    kind : {"auto", "exact", "ivf", "ivfpq", "hnsw"}
        ``"auto"``: exact search up to ``AUTO_EXACT_MAX`` rows; above, IVF unless its calibrated
        ``nprobe / nlist`` exceeds ``AUTO_IVF_MAX_SCAN`` (hard data, e.g. Brown), where exact
        search is as fast. Either way deterministic for given embeddings and seed.
    cache_dir : str or Path, optional
        Where approximate indexes are saved and looked up (``<cache_dir>/index/``). Exact
        search holds a reference to ``X`` and has nothing to save.
    key : str, optional
        A content key of ``X`` (default: :func:`fingerprint` of ``X``, computed only when
        ``cache_dir`` is given and the index is approximate).
    **params
        Passed to the index class (e.g. ``nprobe=``, ``target_recall=``).
    """
    X = _as_pool(X)
    auto = kind == "auto"
    kind = resolve_kind(kind, X.shape[0])
    if auto and kind == "ivf":
        ivf = build_index(X, "ivf", cache_dir=cache_dir, key=key, **params)
        scan = ivf.nprobe_ / ivf.nlist_
        if scan <= AUTO_IVF_MAX_SCAN:
            ivf.auto_ = f"auto: ivf scans {scan:.0%} of the lists per query"
            return ivf
        exact = ExactIndex().fit(X)  # the approximate index would scan too much of the pool
        exact.auto_ = (f"auto: exact, as ivf needs nprobe={ivf.nprobe_} of {ivf.nlist_} lists "
                       f"(> {AUTO_IVF_MAX_SCAN:.0%}) for recall {ivf.target_recall}")
        exact.build_time_ += ivf.build_time_ if ivf.source_ == "computed" else 0.0
        return exact
    cls = INDEXES[kind]
    index = cls(**params)
    if cache_dir is None or kind == "exact":
        return index.fit(X)
    path = index_path(cache_dir, key or fingerprint(X), kind, index.get_params())
    if path.exists() and path.with_name(path.name + ".json").exists():
        try:
            loaded = cls.load(path)
        except (OSError, RuntimeError, ValueError, KeyError, TypeError):
            loaded = None  # unreadable: rebuild and overwrite
        if loaded is not None and (loaded.n_, loaded.dim_) == X.shape:
            return loaded.attach(X) if hasattr(loaded, "attach") else loaded
    index.fit(X)
    index.save(path)
    return index
