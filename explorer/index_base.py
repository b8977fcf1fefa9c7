"""The parts every nearest-neighbour index shares: the :class:`NeighborIndex` interface, exact
search (:class:`ExactIndex`), the recall-calibrated base of the FAISS indexes and their
save/load format. :mod:`explorer.index` holds the approximate kinds and :func:`build_index`
(split from it to keep each module under 600 lines)."""

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
