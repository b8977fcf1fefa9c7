"""Rows of a memory-mapped pool read without keeping the file's pages in the process.

Reading scattered rows through a memory map leaves every touched page (and the kernel's
fault-around neighbours, 64 KiB per fault) mapped into the process: at 10M rows a round's
scattered reads (the re-ranked candidates, the held-out rows) made the server's resident set
grow to most of the 7.2 GiB file (docs/scale.md). :func:`take` reads in chunks and after each
chunk tells the kernel the process no longer needs the map's pages
(``madvise(MADV_DONTNEED)``; they stay in the page cache, shared and reclaimable), so the
resident set holds at most one chunk's pages. :class:`PinnedRows` keeps a fixed set of rows
(the held-out split, read every round) in memory, read once.
"""

from __future__ import annotations

import mmap

import numpy as np

__all__ = ["PinnedRows", "as_float32", "mapped_file", "take"]

#: rows read between two releases of the map's pages (<= 4,096 x 64 KiB resident at a time)
CHUNK_ROWS = 4096


def mapped_file(X):
    """The :class:`mmap.mmap` that ``X``'s rows are read from, or None (an array in memory)."""
    base = X
    while base is not None:
        if isinstance(base, mmap.mmap):
            return base
        base = getattr(base, "base", None)
    return None


def release(X) -> None:
    """Unmap the pages of ``X``'s file from this process (no-op for an array in memory)."""
    mm = mapped_file(X)
    if mm is not None and hasattr(mmap, "MADV_DONTNEED"):
        mm.madvise(mmap.MADV_DONTNEED)


def take(X, ids, chunk=CHUNK_ROWS) -> np.ndarray:
    """``X[ids]`` (rows in the order of ``ids``, ``X``'s dtype); from a memory map, in chunks
    of ``chunk`` rows read in file order, the map's pages released after each."""
    ids = np.asarray(ids, dtype=np.int64)
    if mapped_file(X) is None:
        return X[ids]
    out = np.empty((len(ids),) + tuple(X.shape[1:]), X.dtype)
    order = np.argsort(ids, kind="stable")
    for s in range(0, len(ids), chunk):
        pos = order[s:s + chunk]
        out[pos] = X[ids[pos]]
        release(X)
    return out


class PinnedRows:
    """``X`` as float32 rows, with the rows ``pinned`` held in memory (read and converted once);
    other rows through :func:`take`.

    Indexing with an integer array (or a slice) returns the rows ``X[ids]`` as float32 (what
    the heads compute in). Use it for a memory-mapped (float16) pool whose held-out rows are
    scored every round: converting 200,000 float16 rows to float32 every round cost more than
    the rest of a 10M Step (docs/benchmarks.md 5e).
    """

    def __init__(self, X, pinned):
        self.X = X
        self.ids = np.unique(np.asarray(pinned, dtype=np.int64))
        self.rows = as_float32(take(X, self.ids))
        self.shape, self.dtype = X.shape, np.dtype(np.float32)

    def __len__(self):
        return len(self.X)

    @property
    def ndim(self):
        return self.X.ndim

    def __getitem__(self, key):
        if isinstance(key, slice):
            key = np.arange(*key.indices(len(self.X)), dtype=np.int64)
        ids = np.asarray(key, dtype=np.int64)
        if ids.ndim == 0:
            return self[ids[None]][0]
        pos = np.minimum(np.searchsorted(self.ids, ids), max(len(self.ids) - 1, 0))
        hit = (self.ids[pos] == ids) if len(self.ids) else np.zeros(len(ids), bool)
        if hit.all():
            if len(pos) and pos[-1] - pos[0] + 1 == len(pos) and np.all(np.diff(pos) == 1):
                return self.rows[pos[0]:pos[-1] + 1]  # a run of the pinned rows: a view, no copy
            return self.rows[pos]
        out = np.empty((len(ids),) + tuple(self.X.shape[1:]), np.float32)
        out[hit] = self.rows[pos[hit]]
        out[~hit] = as_float32(take(self.X, ids[~hit]))
        return out


def as_float32(rows):
    """``rows`` as float32 (float16 through the fast vectorised conversion)."""
    if rows.dtype == np.float32:
        return rows
    if rows.dtype == np.float16 and rows.ndim == 2:
        from .exact import rows_float32

        return rows_float32(rows, 0, len(rows))
    return rows.astype(np.float32)
