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
import math
import os
import time
from pathlib import Path

import numpy as np

from .exact import BLOCK_ROWS, exact_knn, rows_float32
from .exceptions import ParameterError

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

#: bump when the saved index layout or its build recipe changes (old files are then ignored)
_FORMAT = 2


def _faiss():
    import faiss

    return faiss


def _as_queries(queries, dim):
    q = np.ascontiguousarray(np.atleast_2d(np.asarray(queries, dtype=np.float32)))
    if q.shape[1] != dim:
        raise ParameterError(
            f"queries have {q.shape[1]} dimensions but the index holds {dim}-d vectors; "
            "embed the queries with the same encoder as the pool"
        )
    return q


def _as_pool(X):
    """``X`` as a 2-D float32 or float16 array, without copying those (memmaps stay memmaps)."""
    X = X if isinstance(X, np.ndarray) else np.asarray(X)
    if X.dtype not in (np.float32, np.float16):
        X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ParameterError(f"X must be a non-empty 2-D array of embeddings, got shape {X.shape}")
    return X


def fingerprint(X) -> str:
    """A content hash of an embeddings array (shape, dtype and bytes; sha256, ~1 s per GB)."""
    X = _as_pool(X)
    h = hashlib.sha256(f"{X.shape}|{X.dtype.str}".encode())
    step = max(1, (64 << 20) // max(X.strides[0], 1))
    for start in range(0, X.shape[0], step):
        h.update(np.ascontiguousarray(X[start:start + step]).data)
    return h.hexdigest()[:24]


class NeighborIndex:
    """Cosine-similarity k-NN over the rows of ``X`` (unit vectors), addressed by global row id.

    Subclasses implement :meth:`_build` and :meth:`_search`.
    """

    kind = "base"

    def get_params(self) -> dict:
        """Constructor parameters (they key the on-disk cache)."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and
                not k.startswith("_")}

    def fit(self, X):
        """Build the index over ``X`` of shape (n, d), float32 or float16, unit rows.
        Row i gets id i."""
        X = _as_pool(X)
        self.n_, self.dim_ = X.shape
        t0 = time.perf_counter()
        self.index_ = self._build(X)
        self.build_time_ = time.perf_counter() - t0
        self.source_ = "computed"
        return self

    def _build(self, X):  # pragma: no cover - abstract
        raise NotImplementedError

    def _search(self, q, k, mask):  # pragma: no cover - abstract
        """(sims float32 (q, k), ids int64 (q, k)) with -1 / -inf padding; ``k <= n_``."""
        raise NotImplementedError

    def search(self, queries, k, exclude=None):
        """Return the ``k`` most similar rows of each query.

        Parameters
        ----------
        queries : array of shape (q, d)
            Unit vectors.
        k : int
            Neighbours per query, ``1 <= k``.
        exclude : array of int, or boolean array of shape (n,), optional
            Global row ids never to return (e.g. the labelled set), or a mask of them.

        Returns
        -------
        ids : int64 array of shape (q, k)
            Global row ids, best first; ``-1`` where fewer than ``k`` rows are available.
        sims : float32 array of shape (q, k)
            Cosine similarities; ``-inf`` where ``ids == -1``.
        """
        if not hasattr(self, "index_"):
            raise ParameterError("the index is not built yet: call fit(X) before search()")
        k = int(k)
        if k < 1:
            raise ParameterError(f"k={k} must be >= 1")
        q = _as_queries(queries, self.dim_)
        mask = self._exclusion_mask(exclude)
        k_eff = min(k, self.n_)
        sims, ids = self._search(q, k_eff, mask)
        ids = ids.astype(np.int64, copy=False)
        sims = np.where(ids < 0, -np.inf, sims).astype(np.float32)
        if k_eff < k:
            pad = k - k_eff
            ids = np.hstack([ids, np.full((len(q), pad), -1, np.int64)])
            sims = np.hstack([sims, np.full((len(q), pad), -np.inf, np.float32)])
        return ids, sims

    def _exclusion_mask(self, exclude):
        """Boolean (n,) mask of excluded rows from ids or a mask; None when nothing is excluded."""
        if exclude is None:
            return None
        exclude = np.asarray(exclude)
        if exclude.dtype == bool:
            if exclude.shape != (self.n_,):
                raise ParameterError(f"exclude as a mask must have shape ({self.n_},), got "
                                     f"{exclude.shape}")
            mask = exclude
        else:
            ids = exclude.astype(np.int64, copy=False).ravel()
            if ids.size == 0:
                return None
            mask = np.zeros(self.n_, bool)
            mask[ids[(ids >= 0) & (ids < self.n_)]] = True
        return mask if mask.any() else None

    def describe(self) -> str:
        """One line saying which index this is and how it was tuned."""
        return f"{self.kind} ({self.n_:,} x {self.dim_})"

    def explain(self) -> str:
        """:meth:`describe`, plus why ``kind="auto"`` chose this index when it did."""
        reason = getattr(self, "auto_", None)
        return self.describe() + (f"; {reason}" if reason else "")


# -- exact search ---------------------------------------------------------------------------------

class ExactIndex(NeighborIndex):
    """Exact search by blocked BLAS matrix products over a reference to the embeddings.

    Holds ``X`` itself (a float32 or float16 array, possibly memory-mapped), not a copy; other
    dtypes are converted to float32 once. See :func:`exact_knn`.

    Parameters
    ----------
    block_rows : int, default BLOCK_ROWS
        Pool rows per matrix product.
    """

    kind = "exact"

    def __init__(self, block_rows=BLOCK_ROWS):
        self.block_rows = block_rows

    def _build(self, X):
        self.X_ = X
        return X

    def _search(self, q, k, mask):
        return exact_knn(self.X_, q, k, mask, self.block_rows)

    def describe(self):
        dtype = "float16" if self.X_.dtype == np.float16 else "float32"
        where = "memory-mapped " if isinstance(self.X_, np.memmap) else ""
        return (f"exact (blocked BLAS matrix products over the {where}{dtype} embeddings, "
                f"{self.n_:,} x {self.dim_})")


# -- approximate search (FAISS) -------------------------------------------------------------------

def _recall(approx_ids, exact_ids):
    hits = 0
    for a, e in zip(approx_ids, exact_ids):
        e = e[e >= 0]
        hits += np.intersect1d(a, e).size
    total = int((exact_ids >= 0).sum())
    return hits / max(total, 1)


def _add_in_blocks(index, X, rows=65_536):
    for start in range(0, X.shape[0], rows):
        index.add(np.ascontiguousarray(rows_float32(X, start, start + rows)))


class _Calibrated(NeighborIndex):
    """An approximate FAISS index whose search-time knob is raised until recall@k reaches the
    target."""

    def __init__(self, target_recall=0.95, calibration_k=50, n_calibration=200, random_state=0):
        self.target_recall = target_recall
        self.calibration_k = calibration_k
        self.n_calibration = n_calibration
        self.random_state = random_state

    def _calibrate(self, X, index, knob_values, set_knob, search=None):
        """Pick the smallest knob value whose recall@k on held-in queries reaches the target.

        The queries are perturbed copies of sampled rows (so a query is not trivially its own
        nearest neighbour), searched exactly once (blocked BLAS) for ground truth. ``search(q, k)
        -> (sims, ids)`` replaces ``index.search`` (e.g. a search that reranks its candidates).
        """
        search = index.search if search is None else search
        rng = np.random.default_rng(self.random_state)
        m = min(self.n_calibration, X.shape[0])
        rows = np.sort(rng.choice(X.shape[0], size=m, replace=False))
        q = np.asarray(X[rows], np.float32) + rng.normal(scale=0.02, size=(m, X.shape[1])
                                                         ).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        k = min(self.calibration_k, X.shape[0])
        _, truth = exact_knn(X, q, k)
        self.calibration_ = []
        for value in knob_values:
            set_knob(index, value)
            _, ids = search(q, k)
            rec = _recall(ids, truth)
            self.calibration_.append((value, rec))
            if rec >= self.target_recall:
                return value, rec
        return value, rec

    def _search_params(self, selector, widen=1):
        """Search parameters with ``selector``; None when ``widen`` > 1 cannot search wider."""
        if widen > 1:
            return None
        return _faiss().SearchParameters(sel=selector)

    def _search(self, q, k, mask):
        if mask is None:
            return self.index_.search(q, k)
        faiss = _faiss()
        # a bitmap selector: O(1) per id tested, built in ~1 ms even for 1M rows
        bitmap = np.packbits(mask, bitorder="little")
        batch = faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap))
        selector = faiss.IDSelectorNot(batch)
        sims, ids = self.index_.search(q, k, params=self._search_params(selector))
        # an approximate index may come back short when many ids are excluded: search the
        # short rows again, wider, while the pool still holds k non-excluded rows
        want = min(k, self.n_ - int(mask.sum()))
        widen = 2
        while True:
            short = np.flatnonzero((ids[:, :want] < 0).any(axis=1))
            if not short.size:
                break
            params = self._search_params(selector, widen=widen)
            if params is None:
                break
            sims[short], ids[short] = self.index_.search(q[short], k, params=params)
            widen *= 2
        del batch, selector, bitmap  # kept alive until the searches returned
        return sims, ids

    # -- persistence: FAISS's own binary format + a JSON of the fitted attributes --------------
    _STATE = ()

    def save(self, path):
        """Write the FAISS index to ``path`` (``faiss.write_index``) and its tuning to
        ``path + '.json'``; both atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        _faiss().write_index(self.index_, str(tmp))
        meta = {"format": _FORMAT, "kind": self.kind, "params": _jsonable(self.get_params()),
                "n": self.n_, "dim": self.dim_, "build_time": self.build_time_,
                "state": _jsonable({a: getattr(self, a, None) for a in self._STATE})}
        tmp_meta = path.with_name(path.name + f".json.tmp{os.getpid()}")
        tmp_meta.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, path)
        os.replace(tmp_meta, path.with_name(path.name + ".json"))
        return path

    @classmethod
    def load(cls, path):
        """Read an index written by :meth:`save` (FAISS binary + JSON; nothing is unpickled)."""
        path = Path(path)
        meta = json.loads(path.with_name(path.name + ".json").read_text())
        if meta.get("kind") != cls.kind or meta.get("format") != _FORMAT:
            raise ParameterError(f"{path} holds a {meta.get('kind')!r} index of format "
                                 f"{meta.get('format')}, not {cls.kind!r} format {_FORMAT}; "
                                 "delete it to rebuild")
        self = cls(**meta["params"])
        self.index_ = _faiss().read_index(str(path))
        self.n_, self.dim_ = int(meta["n"]), int(meta["dim"])
        self.build_time_ = float(meta["build_time"])
        for a, v in meta["state"].items():
            setattr(self, a, v)
        self._after_load()
        self.source_ = "cache"
        return self

    def _after_load(self):
        pass


def _jsonable(d):
    out = {}
    for k, v in d.items():
        if isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, list):
            v = [list(map(float, x)) if isinstance(x, tuple) else x for x in v]
        out[k] = v
    return out


def default_nlist(n):
    """IVF lists for ``n`` rows: ``sqrt(n)`` rounded to a power of two, at least 39 rows each."""
    nlist = max(1, 2 ** round(math.log2(max(math.sqrt(n), 1))))
    return int(min(nlist, max(1, n // 39)))


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
        rows = X[flat[pos]]
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
