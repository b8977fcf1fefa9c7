"""Scale-out on dask.distributed: a Client from ``--dask ADDRESS``, and the per-row work in partitions.

Three expensive steps run on the workers of a Dask cluster, each partition independently:

* **embedding** (:func:`embed_partitioned`): each worker loads the encoder once and keeps it; every
  finished partition is saved on the client under ``<cache>/embeddings/parts/<model>-<texts hash>.npy``
  (content-addressed), so an interrupted run resumes with the missing partitions only;
* **UMAP** (:func:`transform_partitioned`): fitted on a sample locally, ``transform``-ed over
  partitions on the workers (``explorer.projection.project(..., client=...)``), a bounded window
  of chunks in flight;
* **fine-tuned scoring** (:func:`score_finetuned`): the fine-tuned encoder's weights travel as a
  ``state_dict`` of tensors; each worker rebuilds the model once per set of weights;
* **full-pool scoring with a head on the vectors** (:func:`explorer.full_pool.score_pool`): each
  task reads its rows of the memory-mapped pool by path; only the head and per-task top-n travel.

Results come back to the client in row order: the same matrix as the local path. A worker lost
mid-job (a machine down, ``kill -9``) costs only its unfinished tasks: every task carries its
input (texts, a chunk of rows, a row range of a file) and the shared objects (the fitted
reducer, the fine-tuned weights) are on every worker, so the scheduler runs the lost tasks on the
others; results already here are kept (``tests/test_cluster.py`` kills a worker of a real cluster
mid-embedding, mid-transform and mid-scoring). Dask moves tasks with pickle between the client
and the workers: connect only to a cluster you trust.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
from pathlib import Path

import numpy as np

from .exceptions import ComputeError, ExplorerError, ParameterError

#: texts per embedding partition
PARTITION_SIZE = 2048

_LOCAL = re.compile(r"^local(?::(\d+))?$")
_ADDRESS = re.compile(r"^(?:(tcp|tls|ucx|inproc|ws|wss)://)?[\w.\-\[\]:]+:\d+$")
_HELP = ("use 'local' (one worker per CPU core), 'local:N' (N one-thread worker processes) or a "
         "scheduler address such as tcp://10.0.0.5:8786")


def parse_address(address) -> tuple:
    """``'local'`` → ``("local", os.cpu_count())``, ``'local:N'`` → ``("local", N)``, a scheduler
    address → ``("scheduler", address)`` (``tcp://`` added when no protocol is given)."""
    text = str(address).strip()
    match = _LOCAL.match(text)
    if match:
        n = int(match.group(1)) if match.group(1) else (os.cpu_count() or 1)
        if n < 1:
            raise ParameterError(f"--dask={text!r}: N={n} workers must be >= 1; {_HELP}")
        return "local", n
    if _ADDRESS.match(text):
        return "scheduler", text if "://" in text else f"tcp://{text}"
    raise ParameterError(f"--dask={text!r} is not a Dask address; {_HELP}")


@contextlib.contextmanager
def dask_client(address):
    """A ``distributed.Client`` for ``address`` (see :func:`parse_address`), closed on exit.

    ``local:N`` starts a ``LocalCluster`` of N worker processes with one thread each, its
    dashboard on a free port of 127.0.0.1 only and logs quiet; it is shut down with the client. A scheduler address connects to a running
    cluster (``dask scheduler`` + ``dask worker``), which is left running.
    """
    kind, value = parse_address(address)
    try:
        from distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a dependency of the package
        raise ParameterError("--dask needs dask.distributed: pip install 'dask[distributed]'"
                             ) from None
    cluster = None
    try:
        if kind == "local":
            # the dashboard (and the scheduler's HTTP server) on this machine only, any free port
            cluster = LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                                   host="127.0.0.1", dashboard_address="127.0.0.1:0",
                                   silence_logs=logging.ERROR)
            client = Client(cluster)
        else:
            client = Client(value, timeout="20s")
    except (OSError, TimeoutError) as err:
        if cluster is not None:
            cluster.close()
        raise ParameterError(f"--dask={address!r}: cannot reach the Dask scheduler ({err}); "
                             "start it with `dask scheduler` and workers with `dask worker "
                             f"ADDRESS`, or {_HELP}") from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def describe(client) -> str:
    """``'3 workers, 3 threads (tcp://...), dashboard http://...'``."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    text = f"{len(workers)} workers, {threads} threads ({info.get('address', '?')})"
    link = getattr(client, "dashboard_link", None)
    return text + (f", dashboard {link}" if link else "")


# --------------------------------------------------------------------------------------------
# Worker side: one model per worker process, reused by every task
# --------------------------------------------------------------------------------------------

_WORKER_STATE: dict = {}


def _worker_cached(key, build):
    """The object cached under ``key`` in this worker process, built once with ``build()``."""
    obj = _WORKER_STATE.get(key)
    if obj is None:
        if len(_WORKER_STATE) >= 4:  # a long-lived worker serving many runs: keep memory bounded
            _WORKER_STATE.pop(next(iter(_WORKER_STATE)))
        obj = _WORKER_STATE[key] = build()
    return obj


def _stripped(encoder):
    """A copy of ``encoder`` without its loaded model (only the settings travel to workers)."""
    import copy

    clone = copy.copy(encoder)
    clone.__dict__.pop("_model", None)
    return clone


def encoder_token(encoder) -> str:
    """What identifies an encoder on a worker: its class, ``model_id`` and settings."""
    settings = sorted((k, repr(v)) for k, v in vars(encoder).items() if not k.startswith("_"))
    return f"{type(encoder).__module__}.{type(encoder).__qualname__}:{encoder.model_id}:{settings}"


def _encode_partition(texts, encoder, token):
    enc = _worker_cached(("encoder", token), lambda: encoder)
    return np.asarray(enc.encode(list(texts), show_progress=False), dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Embedding
# --------------------------------------------------------------------------------------------

def partition_bounds(n, size) -> list:
    """``[(start, stop), ...]`` covering ``range(n)`` in chunks of ``size`` rows."""
    if int(size) < 1:
        raise ParameterError(f"partition_size={size} must be >= 1")
    return [(s, min(s + int(size), n)) for s in range(0, n, int(size))]


def partition_path(cache_dir, texts, encoder) -> Path:
    """Where a finished partition is kept: ``<cache>/embeddings/parts/<model>-<texts hash>.npy``."""
    from .embed import cache_key

    return Path(cache_dir) / "embeddings" / "parts" / f"{cache_key(texts, encoder)}.npy"


def _progress(total, desc, unit, show, initial=0):
    from .progress import bar

    return bar(total=total, desc=desc, unit=unit, show=show, initial=initial)


def _gather_in_order(futures, on_result, resumable=True, more=None):
    """Call ``on_result(i, value)`` as futures finish; after all, raise the first failure.

    ``more(i)``, when given, is called after each finished future and may return a new future
    (for index ``i``, appended to ``futures``) to wait for too: a bounded window of tasks.
    ``resumable`` says whether the finished partitions are kept for a second run (the message).
    """
    from distributed import as_completed

    futures = list(futures)
    index = {f.key: i for i, f in enumerate(futures)}
    failed = []
    queue = as_completed(futures)
    for future in queue:
        i = index[future.key]
        try:
            value = future.result()
        except ExplorerError:
            raise
        except Exception as err:  # a task's own error, re-raised by Dask: keep the others
            failed.append((i, err))
        else:
            on_result(i, value)
        future.release()
        if more is not None:
            nxt = more(len(futures))
            if nxt is not None:
                index[nxt.key] = len(futures)
                futures.append(nxt)
                queue.add(nxt)
    if failed:
        i, err = failed[0]
        then = ("the finished ones are kept: run the same command again to resume" if resumable
                else "run it again")
        raise ComputeError(f"{len(failed)} of {len(futures)} partitions failed on the Dask "
                           f"workers (first: partition {i}: {type(err).__name__}: {err}); {then}")


def embed_partitioned(texts, encoder, client, cache_dir=None, partition_size=PARTITION_SIZE,
                      show_progress=True):
    """Embed ``texts`` on the workers of ``client``, partition by partition, in row order.

    Parameters
    ----------
    texts : sequence of str, length n
    encoder : Encoder
        Sent to the workers without its loaded model; each worker loads the model once.
    client : distributed.Client
    cache_dir : path, optional
        Cache root on this (the client's) machine. Finished partitions are saved under
        ``<cache_dir>/embeddings/parts/`` as they arrive and skipped by a later call; once all are
        there the full matrix is written where :func:`explorer.embed.embed` looks for it and the
        partition files are deleted. No cache when None.
    partition_size : int
        Texts per task.
    show_progress : bool
        A progress bar over partitions.

    Returns
    -------
    float32 ndarray of shape (n, dim), unit rows (memory-mapped when cached)
    """
    from ._io import save_array, write_atomic
    from .embed import cache_key

    texts = [str(t) for t in texts]
    bounds = partition_bounds(len(texts), partition_size)
    final = None
    if cache_dir is not None:
        final = Path(cache_dir) / "embeddings" / f"{cache_key(texts, encoder)}.npy"
        if final.exists():
            return np.load(final, mmap_mode="r", allow_pickle=False)
    paths = ([partition_path(cache_dir, texts[s:e], encoder) for s, e in bounds]
             if cache_dir is not None else [None] * len(bounds))
    done = {i: None for i, p in enumerate(paths) if p is not None and p.exists()}
    todo = [i for i in range(len(bounds)) if i not in done]
    results = {}
    if todo:
        token = encoder_token(encoder)
        light = _stripped(encoder)
        run = uuid.uuid4().hex[:8]
        keys = [f"anchoral-embed-{run}-{i}" for i in todo]
        futures = client.map(_encode_partition, [texts[bounds[i][0]:bounds[i][1]] for i in todo],
                             encoder=light, token=token, key=keys, pure=False, retries=1)

        with _progress(len(bounds), "embedding (dask)", "part", show_progress,
                       initial=len(done)) as bar:
            def keep(j, X):
                i = todo[j]
                if paths[i] is not None:
                    save_array(paths[i], X)
                else:
                    results[i] = X
                bar.update(1)

            _gather_in_order(futures, keep)
    dim = None
    for i, p in enumerate(paths):
        if p is not None:
            shape = np.load(p, mmap_mode="r", allow_pickle=False).shape
        else:
            shape = results[i].shape
        dim = shape[1] if dim is None else dim
        if shape != (bounds[i][1] - bounds[i][0], dim):
            raise ComputeError(f"partition {i} has shape {shape}, expected "
                               f"({bounds[i][1] - bounds[i][0]}, {dim}); delete "
                               f"{p or 'it'} and run again")
    n, dim = len(texts), dim or 0
    if final is None:
        return (np.concatenate([results[i] for i in range(len(bounds))]) if bounds
                else np.empty((0, 0), np.float32))

    def assemble(tmp):  # partition by partition: the full matrix is never in memory twice
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, dim))
        for (s, e), p in zip(bounds, paths):
            out[s:e] = np.load(p, mmap_mode="r", allow_pickle=False)
        out.flush()
        del out

    write_atomic(final, assemble)
    for p in paths:  # the full matrix is cached: the partitions are no longer needed to resume
        p.unlink(missing_ok=True)
    return np.load(final, mmap_mode="r", allow_pickle=False)


# --------------------------------------------------------------------------------------------
# UMAP transform
# --------------------------------------------------------------------------------------------

def _transform(X, reducer):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(reducer.transform(np.asarray(X, dtype=np.float32)), dtype=np.float32)


def transform_partitioned(reducer, X, client, chunk_size=10_000, on_rows=None, rows=None):
    """``reducer.transform`` over row chunks of ``X`` (or of ``X[rows]``) on the workers.

    The fitted reducer goes to every worker once (a lost worker does not lose it). Each chunk is
    read here (float16 stays float16 on the wire; cast on the worker) when a slot is free, at
    most two per worker thread on the cluster at once, and travels inside its task: neither this
    process nor the network holds the whole pool, and a chunk whose worker is lost is sent to
    another by the scheduler. ``on_rows(m)`` is called with each finished chunk's row count (a
    progress bar's ``update``).

    Returns
    -------
    float32 ndarray of shape (len(X) or len(rows), k), in row order
    """
    import dask

    n = len(X) if rows is None else len(rows)
    bounds = partition_bounds(n, chunk_size)
    if not bounds:
        return np.empty((0, 2), np.float32)
    [remote] = client.scatter([reducer], hash=False, broadcast=True)
    threads = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    run = uuid.uuid4().hex[:8]

    def submit(i):
        if i >= len(bounds):
            return None
        s, e = bounds[i]
        chunk = np.asarray(X[s:e] if rows is None else X[np.asarray(rows[s:e])])
        if chunk.dtype not in (np.float16, np.float32):
            chunk = chunk.astype(np.float32)
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1GB"}):
            return client.submit(_transform, chunk, remote, pure=False,
                                 key=f"anchoral-umap-{run}-{i}")

    parts = {}

    def keep(i, coords):
        parts[i] = coords
        if on_rows is not None:
            on_rows(len(coords))

    first = [submit(i) for i in range(min(len(bounds), max(2, 2 * threads)))]
    _gather_in_order(first, keep, resumable=False, more=submit)
    return np.concatenate([parts[i] for i in range(len(bounds))])


# --------------------------------------------------------------------------------------------
# Fine-tuned encoder scoring
# --------------------------------------------------------------------------------------------

def _finetuned_model(model_path, weights_key, state, n_classes):
    import torch
    from transformers import AutoModel, AutoTokenizer

    def build():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        encoder = AutoModel.from_pretrained(model_path)
        encoder.load_state_dict(state["encoder"])
        head = torch.nn.Linear(int(encoder.config.hidden_size), n_classes)
        head.load_state_dict(state["head"])
        return tokenizer, encoder.eval(), head.eval()

    return _worker_cached(("finetuned", model_path, weights_key), build)


def _score_partition(texts, model_path, weights_key, state, n_classes, max_length,
                     rows_per_batch):
    import torch

    tokenizer, encoder, head = _finetuned_model(model_path, weights_key, state, n_classes)
    order = np.argsort([len(t) for t in texts], kind="stable")
    proba = np.empty((len(texts), n_classes), np.float64)
    hidden = np.empty((len(texts), int(encoder.config.hidden_size)), np.float32)
    with torch.inference_mode():
        for s in range(0, len(texts), rows_per_batch):
            rows = order[s:s + rows_per_batch]
            enc = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                            max_length=max_length, return_tensors="pt")
            out = encoder(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(out.dtype)
            h = (out * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            proba[rows] = torch.softmax(head(h), dim=-1).numpy()
            hidden[rows] = h.numpy()
    return proba, hidden


def score_finetuned(client, texts, model_path, state, weights_key, n_classes, *, max_length=128,
                    batch_size=128, partition_size=PARTITION_SIZE, show_progress=False):
    """Class probabilities (m, C) and pooled states (m, h) of ``texts`` under a fine-tuned encoder.

    Parameters
    ----------
    client : distributed.Client
    texts : sequence of str, length m
    model_path : str
        The pretrained model folder, present at the same path on every worker.
    state : dict
        ``{"encoder": state_dict, "head": state_dict}`` of CPU tensors: the fine-tuned weights,
        sent once to every worker (never through a file that would need unpickling).
    weights_key : str
        Names this set of weights; a worker rebuilds its model only when the key changes.
    n_classes, max_length, batch_size : as the local :class:`explorer.models.FineTunedEncoder`
    """
    texts = [str(t) for t in texts]
    bounds = partition_bounds(len(texts), partition_size)
    # on every worker: a lost worker does not lose the weights the others need
    [remote] = client.scatter([state], hash=False, broadcast=True)
    futures = client.map(_score_partition, [texts[s:e] for s, e in bounds], pure=False,
                         model_path=str(model_path), weights_key=weights_key, state=remote,
                         n_classes=int(n_classes), max_length=int(max_length),
                         # not `batch_size`: Client.map takes that name for itself
                         rows_per_batch=int(batch_size),
                         key=[f"anchoral-score-{uuid.uuid4().hex[:8]}-{i}"
                              for i in range(len(bounds))])
    parts = {}
    with _progress(len(bounds), "scoring (dask)", "part", show_progress) as bar:
        def keep(i, value):
            parts[i] = value
            bar.update(1)

        _gather_in_order(futures, keep)
    if not bounds:
        return np.zeros((0, n_classes)), np.zeros((0, 0), np.float32)
    return (np.concatenate([parts[i][0] for i in range(len(bounds))]),
            np.concatenate([parts[i][1] for i in range(len(bounds))]))
