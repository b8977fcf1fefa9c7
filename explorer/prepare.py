"""dataset → embeddings → index + projection, cached: the data half of the pipeline.

``prepare(source)`` is what the CLI (``anchoral prepare``), the simulations and the app call. On the
shipped sample it reads the shipped vectors and coordinates; elsewhere it embeds and projects once
and memory-maps the cached results on every later call.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import Dataset, load_dataset
from ._io import save_array, write_atomic
from .exceptions import ParameterError
from .embed import PrecomputedEmbeddings, SentenceEncoder, embed, normalize
from .index import NeighborIndex, build_index
from .options import PrepareOptions
from .projection import project, projection_key

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"


def default_cache_dir() -> Path:
    """``$ANCHORAL_CACHE_DIR`` or ``~/.cache/anchoral-explorer``."""
    from .corpora import cache_root

    return Path(cache_root())


@dataclass(eq=False)
class Prepared:
    """Everything the engine and the app need about one pool.

    Attributes
    ----------
    dataset : Dataset
    embeddings : float32 (or float16, ``embeddings_dtype``) ndarray of shape (n, d), unit rows
    coords : float32 ndarray of shape (n, 2), UMAP coordinates (None when not projected)
    index : NeighborIndex
    cache_dir : Path
    timings : dict of str to float
        Seconds per step (load, embed, index, project); a cached step takes ~0.
    sources : dict of str to str
        Where the embeddings, index and coordinates came from (computed, cache, shipped, file).
    client : distributed.Client or None
        The Dask cluster the pool was prepared on; the fine-tuned encoder scores large sets of
        rows on it too (``explorer.models.make_model``). Not part of the pool's identity.
    encoder : Encoder or None
        The encoder that made the embeddings (it encodes a typed query for
        :func:`explorer.neighbours.neighbours`); None for precomputed or synthetic vectors.
    options : PrepareOptions
        The options the pool was prepared with (a session stores them:
        :func:`explorer.store.data_spec_of`).
    """

    dataset: Dataset
    embeddings: np.ndarray
    coords: np.ndarray | None
    index: NeighborIndex
    cache_dir: Path
    timings: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    client: object = field(default=None, repr=False)
    encoder: object = field(default=None, repr=False)
    options: PrepareOptions = field(default_factory=PrepareOptions, repr=False)

    def summary(self) -> str:
        X = self.embeddings
        lines = [self.dataset.summary(),
                 f"embeddings: {X.shape[0]:,} x {X.shape[1]} {X.dtype.name} "
                 f"({'memory-mapped, ' if isinstance(X, np.memmap) else ''}"
                 f"{self.sources.get('embeddings')})",
                 f"index: {self.index.explain()} ({self.sources.get('index', 'computed')})",
                 f"projection: {'-' if self.coords is None else 'UMAP 2-D'} "
                 f"({self.sources.get('coords', 'skipped')})",
                 f"cache: {self.cache_dir}",
                 "time: " + ", ".join(f"{k} {v:.2f} s" for k, v in self.timings.items())]
        return "\n".join(lines)


def _shipped_sample(dataset: Dataset, encoder):
    """The sample's shipped (embeddings, coords), or None when they do not match the texts."""
    manifest = SAMPLE_DIR / "manifest.json"
    if dataset.name != "sample" or not manifest.exists():
        return None
    meta = json.loads(manifest.read_text())
    if meta.get("content_hash") != dataset.content_hash or meta.get("model_id") != encoder.model_id:
        return None
    X = normalize(np.load(SAMPLE_DIR / "embeddings.npy", allow_pickle=False))
    coords = np.load(SAMPLE_DIR / "coords.npy", allow_pickle=False).astype(np.float32)
    return X, coords


def prepare(source, options=None, *, encoder=None, progress=True, client=None,
            **keywords) -> Prepared:
    """Load, embed, index and project a pool, reusing every cached step.

    Parameters
    ----------
    source : str, Path or Dataset
        Anything :func:`explorer.data.load_dataset` accepts, or a loaded Dataset.
    options : PrepareOptions or dict, optional
        How to load, embed, index and project (:class:`~explorer.options.PrepareOptions`: the
        one place that holds every option and its default). ``None``: the defaults.
    encoder : Encoder, optional
        Defaults to the offline all-MiniLM-L6-v2 (ignored with ``options.embeddings``).
    progress : bool
        Show progress bars.
    client : distributed.Client, optional
        Embed in partitions and UMAP-transform on this Dask cluster's workers
        (:mod:`explorer.distributed`); finished partitions are cached, so an interrupted call
        resumes. ``None`` computes everything in this process.
    **keywords
        Any :class:`~explorer.options.PrepareOptions` field (``text_col``, ``label_col``,
        ``minority``, ``drop_invalid``, ``cache_dir``, ``embeddings``, ``index``,
        ``embeddings_dtype``, ``projection``, ``random_state``, ``partition_size``), applied
        over ``options``: ``prepare("my.csv", index="exact")`` is
        ``prepare("my.csv", PrepareOptions(index="exact"))``. An approximate ``index`` (ivf,
        hnsw) is saved under ``<cache_dir>/index/`` and read back by every later call on the
        same embeddings (``sources["index"] == "cache"``); ``embeddings_dtype="float16"``
        halves the cached vectors' memory (1M x 384: 0.77 GB instead of 1.5 GB; the index and
        the models read them as float32 blocks, and the UMAP map is cached per dtype).

    Returns
    -------
    Prepared
        With the options it was made with (``Prepared.options``).

    Raises
    ------
    ParameterError
        For an unknown or invalid option (named, with the allowed values).

    Notes
    -----
    ``options.task`` (``"binary:noun.food@1%"``, :mod:`explorer.tasks`) derives a paper-style
    task from the pool: the pool is prepared as usual and sliced, never embedded again. A named
    task (``source="wordnet-binary-1"``, :data:`explorer.tasks.TASKS`) needs none.
    """
    opts = PrepareOptions.of(options, **keywords)
    from .tasks import is_task_name

    if opts.task is not None or is_task_name(source):
        return prepare_task(source, opts, encoder=encoder, progress=progress, client=client)
    minority = list(opts.minority) if opts.minority else None
    text_col, label_col, drop_invalid = opts.text_col, opts.label_col, opts.drop_invalid
    embeddings, index, projection = opts.embeddings, opts.index, opts.projection
    random_state, embeddings_dtype = opts.random_state, opts.embeddings_dtype
    cache_dir, partition_size = opts.cache_dir, opts.partition_size
    from .embed import check_dtype, resolve_dtype

    check_dtype(np.float32 if embeddings_dtype == "auto" else embeddings_dtype)
    timings = {}
    sources = {}
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    t0 = time.perf_counter()
    dataset = source if isinstance(source, Dataset) else load_dataset(
        source, text_col=text_col, label_col=label_col, minority=minority,
        drop_invalid=drop_invalid, cache_dir=cache_dir)
    timings["load"] = time.perf_counter() - t0
    dtype = resolve_dtype(embeddings_dtype, dataset.n)  # "auto": float16 above 2M rows

    if embeddings is not None:
        encoder = PrecomputedEmbeddings(embeddings)
    encoder = encoder or SentenceEncoder()
    t0 = time.perf_counter()
    shipped = None if embeddings is not None else _shipped_sample(dataset, encoder)
    coords = None
    if shipped is not None:
        X, coords = shipped
        X = X if dtype == np.float32 else X.astype(dtype)
        sources["embeddings"] = sources["coords"] = f"shipped in {SAMPLE_DIR}"
    else:
        from .embed import cache_path

        if isinstance(encoder, PrecomputedEmbeddings):
            sources["embeddings"] = f"file {embeddings}"
        else:
            hit = cache_path(cache_dir, dataset.texts, encoder, dtype).exists()
            sources["embeddings"] = "cache" if hit else "computed"
            if client is not None and not hit:
                from .distributed import describe

                sources["embeddings"] = f"computed on Dask: {describe(client)}"
        if client is not None and not isinstance(encoder, PrecomputedEmbeddings):
            from .distributed import PARTITION_SIZE, embed_partitioned

            X = embed_partitioned(dataset.texts, encoder, client, cache_dir=cache_dir,
                                  partition_size=partition_size or PARTITION_SIZE,
                                  show_progress=progress)
            if dtype != np.float32:  # cast the float32 cache the workers filled
                X = embed(dataset.texts, encoder, cache_dir=cache_dir, show_progress=False,
                          dtype=dtype)
        else:
            X = embed(dataset.texts, encoder, cache_dir=cache_dir, show_progress=progress,
                      dtype=dtype)
    timings["embed"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    nn = build_index(X, kind=index, cache_dir=cache_dir)
    timings["index"] = time.perf_counter() - t0
    sources["index"] = getattr(nn, "source_", "computed")

    if projection and coords is None:
        t0 = time.perf_counter()
        data_key = f"{encoder.model_id}-{dataset.content_hash}"
        if dtype != np.float32:  # the map of float16 vectors is its own (cached) result
            data_key += f"-{dtype.name}"
        key = projection_key(data_key, random_state, 50_000, 20_000, {})
        path = cache_dir / "projection" / f"umap-{key}.npy"
        sources["coords"] = "cache" if path.exists() else "computed"
        coords = project(X, random_state=random_state, cache_path=path, show_progress=progress,
                         client=client)
        timings["project"] = time.perf_counter() - t0
    return Prepared(dataset=dataset, embeddings=X, coords=coords, index=nn, cache_dir=cache_dir,
                    timings=timings, sources=sources, client=client,
                    encoder=None if isinstance(encoder, PrecomputedEmbeddings) else encoder,
                    options=opts)


def build_sample_vectors(random_state=0) -> Path:
    """Embed and project the shipped sample; write embeddings.npy (float16), coords.npy, manifest.json."""
    dataset = load_dataset("sample")
    encoder = SentenceEncoder()
    t0 = time.perf_counter()
    X = encoder.encode(dataset.texts, show_progress=True)
    t_embed = time.perf_counter() - t0
    t0 = time.perf_counter()
    coords = project(X, random_state=random_state)
    t_umap = time.perf_counter() - t0
    save_array(SAMPLE_DIR / "embeddings.npy", X.astype(np.float16))
    save_array(SAMPLE_DIR / "coords.npy", coords.astype(np.float32))
    meta = {"content_hash": dataset.content_hash, "model_id": encoder.model_id,
            "n": int(X.shape[0]), "dim": int(X.shape[1]), "umap_random_state": random_state,
            "embed_seconds": round(t_embed, 1), "umap_seconds": round(t_umap, 1)}
    write_atomic(SAMPLE_DIR / "manifest.json",
                 lambda p: p.write_text(json.dumps(meta, indent=2) + "\n"))
    return SAMPLE_DIR


def derive_prepared(prepared, task, *, index=None, name=None, cache_dir=None):
    """The task's :class:`~explorer.prepare.Prepared`, sliced from its base pool's.

    The base pool's vectors and UMAP coordinates are sliced (no text is embedded again); the
    task gets its own vector index over its rows (an approximate one is cached under
    ``cache_dir``, keyed by the sliced vectors). The base's own index is not used (prepare the
    base with ``index="exact"``: nothing to build).

    Parameters
    ----------
    prepared : Prepared
        The base pool, prepared (:func:`explorer.prepare.prepare`).
    task : Task, TaskSpec or str
        A derived task of ``prepared.dataset`` or its spec.
    index : str, optional
        The task's index kind (``None``: :class:`~explorer.options.PrepareOptions`'s default).
    name : str, optional
        The task dataset's name.
    cache_dir : str or Path, optional
        Where the task's approximate index is cached (default: the base pool's cache).
    """
    import time
    from pathlib import Path

    from .tasks import Task, derive_task, parse_task

    index = PrepareOptions().index if index is None else index
    if not isinstance(task, Task):
        task = derive_task(prepared.dataset, task, name=name)
    rows = task.rows
    t0 = time.perf_counter()
    X = np.ascontiguousarray(prepared.embeddings[rows])
    coords = None if prepared.coords is None else np.ascontiguousarray(prepared.coords[rows])
    t_slice = time.perf_counter() - t0
    t0 = time.perf_counter()
    cache_dir = Path(cache_dir) if cache_dir is not None else prepared.cache_dir
    nn = build_index(X, kind=index, cache_dir=cache_dir)
    timings = {**prepared.timings, "task": t_slice, "index": time.perf_counter() - t0}
    sources = {**prepared.sources,
               "embeddings": f"{len(rows):,} rows of {task.base_name}'s "
                             f"({prepared.sources.get('embeddings') or 'computed'})",
               "index": getattr(nn, "source_", "computed"), "task": task.spec.describe()}
    if coords is not None:
        sources["coords"] = f"rows of {task.base_name}'s ({prepared.sources.get('coords')})"
    opts = getattr(prepared, "options", None)
    extra = {} if opts is None else {"options": opts.replace(task=task.spec.describe(),
                                                             index=index)
                                     if task.spec == parse_task(task.spec.describe()) else opts}
    out = Prepared(dataset=task.dataset, embeddings=X, coords=coords, index=nn,
                   cache_dir=prepared.cache_dir, timings=timings, sources=sources,
                   client=prepared.client, encoder=prepared.encoder, **extra)
    out.task = task
    return out


def prepare_task(source, options=None, *, encoder=None, progress=True, client=None,
                 **keywords):
    """:func:`explorer.prepare.prepare` of a task: ``source`` a named task (:data:`TASKS`), or a
    pool with ``options.task``; the base pool is prepared (cached embeddings reused, an exact
    index: nothing to build) and sliced by :func:`derive_prepared`.

    Parameters are those of :func:`explorer.prepare.prepare`.
    """
    from .tasks import TASKS, is_task_name

    opts = PrepareOptions.of(options, **keywords)
    name, spec = None, opts.task
    if is_task_name(source):
        if spec is not None:
            raise ParameterError(f"{source!r} is already a task; give its base pool with "
                                 f"task={spec!r}, or the task name alone", param="task",
                                 value=spec)
        name, (source, spec) = source, TASKS[source]
    elif spec is None:
        raise ParameterError(f"source={source!r} is not a named task ({', '.join(TASKS)}); "
                             "give a pool and task='binary:CLASS@SHARE'", param="task",
                             value=None)
    base = prepare(source, opts.replace(task=None, index="exact"), encoder=encoder,
                   progress=progress, client=client)
    out = derive_prepared(base, spec, index=opts.index, name=name)
    out.options = opts
    return out
