"""Exact k-NN by blocked BLAS matrix products over float32 or float16 (memory-mapped) embeddings.

The pool is read once, block by block: one ``sgemm`` (numpy's ``matmul``) of the queries against
a block, then a partial selection of the block's candidates merged into each query's running
top-k. Excluded rows (labelled, held out) are a boolean mask. Equal similarities come back in
ascending row id order. On one core this is bound by the arithmetic (2 q n d flops), not by
memory, at AnchorAL's 20-150 anchors; docs/benchmarks.md section 3 has the numbers.
"""

from __future__ import annotations

import numpy as np

#: rows of the pool per matrix product in exact search (16,384 x 384 float32 = 25 MB)
BLOCK_ROWS = 16_384


def rows_float32(X, start, stop, out=None):
    """Rows ``start:stop`` of ``X`` as float32 (a view when they already are)."""
    block = X[start:stop]
    if block.dtype == np.float32:
        return block
    return _half_to_float(block, out)


def _half_to_float(block, out=None):
    """float16 -> float32; torch's vectorised conversion is ~15x faster than numpy's here."""
    import sys
    import warnings

    if out is None:
        out = np.empty(block.shape, np.float32)
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            import torch
        except ImportError:  # numpy's conversion: correct, slower
            np.copyto(out, block)
            return out
    src = np.ascontiguousarray(block)
    with warnings.catch_warnings():  # read-only (memory-mapped) input: torch only reads it
        warnings.simplefilter("ignore", UserWarning)
        torch.from_numpy(out).copy_(torch.from_numpy(src))
    return out


def exact_knn(X, queries, k, mask=None, block_rows=BLOCK_ROWS):
    """Exact inner-product k-NN of ``queries`` among the rows of ``X`` not in ``mask``.

    One matrix product per block of ``block_rows`` rows (BLAS ``sgemm``). While a query holds
    fewer than ``k`` results, a block offers its top-k (partial selection, ``np.partition``);
    afterwards only the rows that beat the query's current k-th best, strictly, so that equal
    similarities keep the earlier, smaller row id. Offers are merged into the running top-k with
    one small sort. Equal similarities come back in ascending row id order.

    Parameters
    ----------
    X : float32 or float16 array (n, d)
        Read block by block; never copied as a whole.
    queries : float32 array (q, d)
    k : int, 1 <= k <= n
    mask : bool array (n,), optional
        True = excluded.
    block_rows : int

    Returns
    -------
    sims : float32 (q, k), ids : int64 (q, k)
        Best first; ``-inf`` / ``-1`` where fewer than ``k`` rows are not excluded.
    """
    n = X.shape[0]
    q = np.ascontiguousarray(queries, dtype=np.float32)
    nq = q.shape[0]
    # the running top-k of every query, flat and sorted by (query, -similarity, id)
    best_q, best_s, best_i = np.empty(0, np.int64), np.empty(0, np.float32), np.empty(0, np.int64)
    thr = np.full(nq, -np.inf, np.float32)  # k-th best so far (-inf until k are held)
    block_rows = int(max(1, block_rows))
    S = np.empty((nq, min(block_rows, n)), np.float32)
    conv = None if X.dtype == np.float32 else np.empty((min(block_rows, n), X.shape[1]),
                                                       np.float32)
    rows = np.arange(nq)
    for start in range(0, n, block_rows):
        stop = min(start + block_rows, n)
        m = stop - start
        Xb = rows_float32(X, start, stop, None if conv is None else conv[:m])
        Sb = S[:, :m]
        np.matmul(q, Xb.T, out=Sb)
        mb = None if mask is None else mask[start:stop]
        if mb is not None and not mb.any():
            mb = None
        need = np.isneginf(thr)
        if need.any():  # some query holds fewer than k: take the block's top-k (ties included)
            if mb is not None:
                Sb[:, mb] = -np.inf
            cut = thr.copy()
            cut[need] = (np.partition(Sb[need], m - k, axis=1)[:, m - k] if m > k else -np.inf)
            hit = np.empty(Sb.shape, bool)
            np.greater_equal(Sb, cut[:, None], out=hit, where=need[:, None])
            np.greater(Sb, cut[:, None], out=hit, where=~need[:, None])
            hit &= Sb > -np.inf
        else:
            hit = Sb > thr[:, None]
        r, c = np.nonzero(hit)
        if mb is not None and r.size:
            ok = ~mb[c]
            r, c = r[ok], c[ok]
        if not r.size:
            continue
        qq = np.concatenate([best_q, r])
        ss = np.concatenate([best_s, Sb[r, c]])
        ii = np.concatenate([best_i, c.astype(np.int64) + start])
        order = np.lexsort((ii, -ss, qq))
        qq, ss, ii = qq[order], ss[order], ii[order]
        first = np.searchsorted(qq, rows)
        keep = np.arange(qq.size) - first[qq] < k
        best_q, best_s, best_i = qq[keep], ss[keep], ii[keep]
        first = np.searchsorted(best_q, rows)
        full = np.bincount(best_q, minlength=nq) >= k
        thr[full] = best_s[first[full] + k - 1]
    sims = np.full((nq, k), -np.inf, np.float32)
    ids = np.full((nq, k), -1, np.int64)
    rank = np.arange(best_q.size) - np.searchsorted(best_q, rows)[best_q]
    sims[best_q, rank] = best_s
    ids[best_q, rank] = best_i
    return sims, ids
