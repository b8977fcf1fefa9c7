"""Full-pool scores of a memory-mapped pool, row block by row block, here or as Dask tasks.

The full-pool baseline of the AnchorAL paper scores every unlabelled row each round. At 10M x 384
the pool does not fit in memory as float32 (15.4 GB), so :func:`score_pool` never loads it: each
task opens the ``.npy`` memory map itself by path, reads its row range in blocks, turns each block
into class probabilities with the fitted head, scores them (entropy, margin, least confidence) and
keeps its own top ``n``. Only the head's coefficients travel to a task and only ``n`` ids and
scores per task come back; the client merges them. With a Dask client the tasks run on the
cluster's workers (each reads the file at the same path: shared storage or a copy on every
worker), without one they run in this process, one after the other: the same kernel, the same ids.

Ties are broken by the lower row id (``explorer.strategies.scores.top_n`` with no ``rng`` over
ids in increasing order gives the same ranking).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._validation import check_int, check_name
from .exceptions import DataError, ParameterError
from .strategies.scores import entropy, least_confidence, margin

#: rows per task (10M rows: 39 tasks; 262,144 x 384 float16 = 192 MB read by one task)
PARTITION_ROWS = 262_144
#: rows turned into probabilities at once inside a task (65,536 x 384 float32 = 100 MB)
BLOCK_ROWS = 65_536

#: the strategies whose score of a row depends on that row only (a top-n can be merged)
ROW_SCORES = {"entropy": entropy, "margin": margin, "leastconf": least_confidence}


@dataclass(frozen=True)
class PoolTop:
    """The ``n`` best rows of a full-pool scoring.

    Attributes
    ----------
    ids : int64 array of shape (min(n, n_scored),)
        Global row ids, best first (ties: lower id first).
    scores : float64 array, same shape
        The strategy's score of each id.
    n_scored : int
        Rows scored (the pool minus ``exclude``).
    n_partitions : int
        Tasks the pool was split into.
    """

    ids: np.ndarray
    scores: np.ndarray
    n_scored: int
    n_partitions: int


class _Head:
    """What travels to a task: the fitted estimator and its class columns, never the pool."""

    def __init__(self, estimator, classes=None, n_classes=None):
        self.estimator = estimator
        self.classes = classes
        self.n_classes = n_classes

    def predict_proba(self, X):
        if self.estimator is None:  # a head fitted on one class predicts it with certainty
            out = np.zeros((len(X), self.n_classes))
            out[:, self.classes[0]] = 1.0
            return out
        p = self.estimator.predict_proba(X)
        if self.classes is None:
            return p
        out = np.zeros((len(p), self.n_classes))  # columns of every class, as the head gives
        out[:, self.classes] = p
        return out


def head_of(model) -> _Head:
    """The small picklable part of a fitted head that scores feature rows.

    ``model`` is a fitted :class:`~explorer.models.LogisticHead` / ``MLPHead`` (its estimator and
    class columns are taken, not its pool) or any fitted classifier with ``predict_proba(X)`` on
    feature rows (a scikit-learn estimator).
    """
    if hasattr(model, "estimator_") and hasattr(model, "classes_"):
        return _Head(model.estimator_, np.asarray(model.classes_), int(model.n_classes))
    if getattr(model, "name", None) == "finetune":
        raise ParameterError("model=finetune scores texts, not vectors; score the pool with "
                             "explorer.distributed.score_finetuned", param="model", value=model)
    if hasattr(model, "predict_proba") and not hasattr(model, "X"):
        return _Head(model)
    raise ParameterError(f"model={type(model).__name__} must be a fitted LR or MLP head "
                         "(explorer.models, after fit) or a fitted classifier with "
                         "predict_proba(X); fit it first", param="model", value=model)


def top_rows(ids, scores, n):
    """The ``n`` best ``(ids, scores)``, best first, ties by lower id; NaN scores rank last."""
    ids = np.asarray(ids, np.int64)
    scores = np.asarray(scores, np.float64)
    s = np.where(np.isnan(scores), -np.inf, scores)
    if n < len(s):
        kth = np.partition(-s, n - 1)[n - 1]
        keep = np.flatnonzero(-s <= kth)
        ids, scores, s = ids[keep], scores[keep], s[keep]
    order = np.lexsort((ids, -s))[:n]
    return ids[order], scores[order]


def _score_rows(start, stop, exclude, *, path, head, strategy, n, block_rows, shape):
    """One task: the top ``n`` of rows ``[start, stop)`` of the ``.npy`` at ``path``.

    Returns ``(ids, scores, rows_scored)``; reads ``block_rows`` rows at a time.
    """
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        import socket

        raise FileNotFoundError(f"{path} is not on {socket.gethostname()}: every worker reads "
                                "the pool at the same path (shared storage or a copy)") from None
    if tuple(X.shape) != tuple(shape):
        raise ValueError(f"{path} has shape {X.shape} here, {tuple(shape)} on the client: "
                         "a different file at the same path")
    score = ROW_SCORES[strategy]
    best_ids, best = np.empty(0, np.int64), np.empty(0, np.float64)
    scored = 0
    for s in range(start, stop, block_rows):
        e = min(s + block_rows, stop)
        ids = np.arange(s, e, dtype=np.int64)
        block = np.asarray(X[s:e], dtype=np.float32)
        if len(exclude):
            keep = ~np.isin(ids, exclude)
            ids, block = ids[keep], block[keep]
        if not len(ids):
            continue
        scored += len(ids)
        sc = score(head.predict_proba(block))
        best_ids, best = top_rows(np.concatenate([best_ids, ids]), np.concatenate([best, sc]), n)
    return best_ids, best, scored


def _npy_path(pool):
    """``(path, shape)`` of a pool given as a ``.npy`` path or as its memory map (``np.load``)."""
    if isinstance(pool, np.memmap):
        if getattr(pool, "filename", None) is None:
            raise DataError("the pool is a memory map without a file name; pass the path of its "
                            ".npy file")
        path, shape = _npy_shape(pool.filename)
        if tuple(pool.shape) != tuple(shape):
            raise DataError(f"the memory map has shape {pool.shape} but its file {path} holds "
                            f"{shape}: pass the whole pool (np.load(path, mmap_mode='r')), not a "
                            "slice")
        return path, shape
    if isinstance(pool, np.ndarray):
        raise DataError("the pool must be a .npy path or its memory map (np.load(path, "
                        "mmap_mode='r')), not an array in memory: each task opens the file "
                        "itself; np.save it first")
    return _npy_shape(pool)


def _npy_shape(path):
    path = Path(path)
    if path.suffix != ".npy" or not path.is_file():
        raise DataError(f"path={str(path)!r} must be an existing .npy file of the pool's vectors "
                        "(n, d), e.g. what `anchoral prepare --save-embeddings` writes")
    shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
    if len(shape) != 2:
        raise DataError(f"path={str(path)!r} holds an array of shape {shape}; the pool's vectors "
                        "must be 2-D (n, d)")
    return path, shape


def score_pool(path, model, strategy="entropy", n=100, *, exclude=None, client=None,
               partition_rows=PARTITION_ROWS, block_rows=BLOCK_ROWS, on_result=None) -> PoolTop:
    """The ``n`` best rows of a whole memory-mapped pool under ``model`` and ``strategy``.

    Parameters
    ----------
    path : str, Path or numpy.memmap
        A ``.npy`` of the pool's vectors, shape (N, d), float16 or float32, or its memory map as
        ``np.load(path, mmap_mode="r")`` returns it (``Prepared.embeddings`` of a cached pool);
        opened memory-mapped by each task (on a cluster: at the same path on every worker).
        Never read whole.
    model : fitted head
        :class:`~explorer.models.LogisticHead` or ``MLPHead`` after ``fit``, or a fitted
        classifier with ``predict_proba(X)`` on rows of ``d`` features. Only its estimator
        (coefficients) travels to the tasks.
    strategy : {"entropy", "margin", "leastconf"}
        The score of a row (:data:`ROW_SCORES`); higher = more informative.
    n : int
        Rows to return (the batch size of a full-pool round), >= 1.
    exclude : int array, optional
        Row ids not to score (the labelled rows).
    client : distributed.Client, optional
        Run the tasks on this Dask cluster's workers; in this process when None.
    partition_rows : int
        Rows per task (:data:`PARTITION_ROWS`).
    block_rows : int
        Rows per ``predict_proba`` call inside a task (:data:`BLOCK_ROWS`); bounds a task's memory
        at about ``block_rows * d * 14`` bytes (float16 pages read, a float32 copy, the head's
        float64 product: 336 MiB at 65,536 x 384; 386 MiB measured in ``bench_cluster.py``).
    on_result : callable(start, stop), optional
        Called with a task's row range once its result is here (a progress bar:
        ``lambda s, e: bar.update(e - s)``). A result that is here is never computed again, even
        if a worker is lost afterwards; a task lost with its worker runs again on another.

    Returns
    -------
    PoolTop
        ``ids`` and ``scores`` of the best ``min(n, rows scored)`` rows, best first, ties broken
        by the lower id: the same as ``top_n(score(model.predict_proba(candidates)), n)`` over
        all candidate ids in increasing order.
    """
    from .distributed import partition_bounds

    strategy = check_name("strategy", strategy, tuple(ROW_SCORES),
                          fix=f"full-pool scoring row by row supports {', '.join(ROW_SCORES)} "
                              "(BADGE and k-means need every row at once)")
    n = check_int("n", n, 1, fix="it is the batch size")
    partition_rows = check_int("partition_rows", partition_rows, 1)
    block_rows = check_int("block_rows", block_rows, 1)
    path, shape = _npy_path(path)
    head = head_of(model)
    exclude = np.unique(np.asarray([] if exclude is None else exclude, np.int64))
    if exclude.size and (exclude[0] < 0 or exclude[-1] >= shape[0]):
        raise ParameterError(f"exclude must hold row ids in [0, {shape[0]}), got "
                             f"{exclude[0]}..{exclude[-1]}", param="exclude")
    bounds = partition_bounds(shape[0], partition_rows)
    parts = [exclude[np.searchsorted(exclude, s):np.searchsorted(exclude, e)] for s, e in bounds]
    # absolute as written, not resolved: a worker may mount the shared folder through other links
    kw = dict(path=str(Path(path).absolute()), head=head, strategy=strategy, n=n,
              block_rows=block_rows, shape=tuple(shape))
    results = {}

    def keep(i, value):
        results[i] = value
        if on_result is not None:
            on_result(*bounds[i])

    if client is None:
        for i, ((s, e), ex) in enumerate(zip(bounds, parts)):
            keep(i, _score_rows(s, e, ex, **kw))
    elif bounds:
        from .distributed import _gather_in_order

        run = uuid.uuid4().hex[:8]
        futures = client.map(_score_rows, [s for s, _ in bounds], [e for _, e in bounds], parts,
                             pure=False, retries=1,
                             key=[f"anchoral-fullpool-{run}-{i}" for i in range(len(bounds))],
                             **kw)
        _gather_in_order(futures, keep, resumable=False)
    if not results:
        return PoolTop(np.empty(0, np.int64), np.empty(0, np.float64), 0, len(bounds))
    ids, scores = top_rows(np.concatenate([results[i][0] for i in range(len(bounds))]),
                           np.concatenate([results[i][1] for i in range(len(bounds))]), n)
    return PoolTop(ids, scores, int(sum(results[i][2] for i in range(len(bounds)))), len(bounds))
