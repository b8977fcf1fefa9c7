"""Active-learning experiments: several runs over one pool, round by round, with oracle, timings and metrics. No UI.

An :class:`Experiment` holds several :class:`Run` s (filter x strategy) over one prepared dataset.
All runs share the held-out test split, the initial labelled set and the seed, so they are
comparable. ``Experiment.step()`` does one round of every run; a run's round is
``propose()`` (select, nothing revealed) then ``commit(labels)`` (reveal, retrain, evaluate), so a
person can stand in for the simulated oracle.

Round 0 is the model trained on the initial set (no selection). Every random step is seeded from
``(seed, round)`` only, so the same seed gives the same queried ids in every round, and a run
resumed at round k continues exactly as an uninterrupted one.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from ._validation import check_int
from .exceptions import DataError, ParameterError
from .filters import make_filter
from .metrics import minority_share
from .models import make_model
from .rowio import PinnedRows, mapped_file
from .runs import QUERY_COLUMNS, ROUND_COLUMNS, RoundResult, RunKey, save_tables
from .settings import PAPER_SUBPOOL_SIZE, check_settings, default_subpool_size
from .splits import holdout_split, initial_set
from .stopping import STOP_COLUMNS, add_stopping_columns
from .strategies import STRATEGIES

__all__ = ["Experiment", "Run", "check_settings", "simulate", "save_tables", "default_subpool_size",
           "PAPER_SUBPOOL_SIZE", "ROUND_COLUMNS", "QUERY_COLUMNS", "STRATEGIES", "RoundResult",
           "RunKey"]


from .run import Run


class Experiment:
    """Several AL runs (filter x strategy) from the same initial set, test split and seed.

    Parameters
    ----------
    prepared : Prepared
        ``dataset``, ``embeddings`` (n, d) unit rows and ``index`` over them.
    runs : sequence of (filter, strategy) names
        Filters: ``anchoral``, ``full``, ``randsub``, ``seals``; strategies: ``random``,
        ``entropy``, ``margin``, ``leastconf``, ``badge``, ``kmeans``.
    model : {"lr", "mlp", "finetune"}
    query_size : int, default 25
    init_size : int, default 100
        Initial labelled set: ``init_per_minority`` random rows of each minority class, the rest
        random from the other classes (``init_per_minority=0``: random from the whole pool).
    init_per_minority : int, default 5
    seed : int, default 0
    test_size : float in (0, 1) or int, default 0.2
        Stratified, seeded held-out split; ignored when the dataset has a ``split`` column.
    subpool_size : int or None
        M for AnchorAL and RandSub; ``None`` = :func:`default_subpool_size` of the training pool.
    n_anchors, n_neighbors, anchor_strategy, minority_only, sampling, temperature
        AnchorAL parameters (``n_neighbors`` is SEALS's k too); see :class:`~explorer.filters.AnchorAL`.
    class_weight : None or "balanced"
        For the LR head and the fine-tuned encoder.
    model_params : dict, optional
        Extra model parameters (e.g. ``{"epochs": 2}`` for ``finetune``).
    initial_ids : int array, optional
        An explicit initial labelled set (overrides ``init_size`` / ``init_per_minority``).
    n_rounds : int, optional
        Checked up front against the pool (``init_size + n_rounds * query_size`` rows).
    mode : {"simulate", "annotate"}
        ``annotate``: the data holds gold labels for a few seed rows only (label -1 elsewhere);
        the seed rows are the initial set, there is no test split, and every batch's labels come
        from a person (:meth:`Run.commit` with labels).
    """

    def __init__(self, prepared, runs=(("anchoral", "entropy"), ("full", "entropy")), *,
                 model="lr", query_size=25, init_size=100, init_per_minority=5, seed=0,
                 test_size=0.2, subpool_size=None, n_anchors=10, n_neighbors=50,
                 anchor_strategy="kmeans++", minority_only=False, sampling="topk",
                 temperature=1.0, class_weight=None, model_params=None, initial_ids=None,
                 n_rounds=None, mode="simulate"):
        ok = check_settings(runs, model=model, query_size=query_size, init_size=init_size,
                            init_per_minority=init_per_minority, seed=seed,
                            subpool_size=subpool_size, n_anchors=n_anchors,
                            n_neighbors=n_neighbors, anchor_strategy=anchor_strategy,
                            sampling=sampling, temperature=temperature, n_rounds=n_rounds,
                            mode=mode)
        self.prepared = prepared
        self.dataset = prepared.dataset
        self.mode, self.model_name, self.seed = ok["mode"], ok["model"], ok["seed"]
        self.query_size, self.init_size = ok["query_size"], ok["init_size"]
        self.init_per_minority = ok["init_per_minority"]
        self.n_neighbors, self.n_anchors = ok["n_neighbors"], ok["n_anchors"]
        self.n_classes = len(self.dataset.classes)
        self.minority = tuple(int(c) for c in self.dataset.minority)
        if mode == "annotate":
            self.train_ids = np.arange(self.dataset.n, dtype=np.int64)
            self.test_ids = np.empty(0, np.int64)
            seeds = np.flatnonzero(self.dataset.y >= 0).astype(np.int64)
            present = np.unique(self.dataset.y[seeds])
            if len(present) < 2:
                raise DataError(
                    f"annotate mode needs seed labels of at least 2 classes; the data has "
                    f"{len(seeds)} labelled row(s) of {len(present)} class(es): label a few rows "
                    "of each class in the label column first")
            if initial_ids is None:
                initial_ids = seeds
            self.init_size = len(initial_ids)
        else:
            self.train_ids, self.test_ids = holdout_split(self.dataset, test_size, self.seed)
        n_pool = len(self.train_ids)
        if self.n_neighbors > n_pool:
            raise ParameterError(
                f"n_neighbors={n_neighbors} is larger than the training pool ({n_pool:,} rows); "
                f"use n_neighbors <= {n_pool}")
        self.subpool_size = (default_subpool_size(n_pool) if subpool_size is None
                             else ok["subpool_size"])
        self.initial_ids = initial_set(self.dataset, self.train_ids, self.minority, self.init_size,
                                       self.init_per_minority, self.seed, initial_ids)
        if n_rounds is not None:
            self.check_rounds(n_rounds)
        gold = self.dataset.y[self.train_ids]
        self.pool_minority_share = minority_share(gold[gold >= 0], self.minority)
        #: (gold-labelled rows, of which minority) in the training pool
        self.pool_counts_ = (int((gold >= 0).sum()), int(np.isin(gold, self.minority).sum()))
        self.filter_params = dict(n_anchors=self.n_anchors, n_neighbors=self.n_neighbors,
                                  subpool_size=self.subpool_size, anchor_strategy=anchor_strategy,
                                  minority_only=minority_only, sampling=sampling,
                                  temperature=temperature)
        self.model_params = dict(model_params or {})
        if class_weight is not None and self.model_name != "mlp":
            self.model_params["class_weight"] = class_weight
        # a memory-mapped pool: the held-out rows, scored every round, are read once and kept
        # (rowio.py); the heads read other rows without keeping the file's pages resident
        X = prepared.embeddings
        self.vectors = (PinnedRows(X, self.test_ids) if mapped_file(X) is not None
                        and self.model_name != "finetune" else X)
        self.runs = []
        for f, s in ok["runs"]:
            flt = make_filter(f, s, **self.filter_params)
            mdl = make_model(self.model_name, prepared, random_state=self.seed,
                             X=self.vectors, **self.model_params)
            self.runs.append(Run(self, flt.name, flt.base.name, flt, mdl))
        self._lock = threading.Lock()

    def fork(self, run_key, at_round, filter=None, strategy=None, **params) -> Run:
        """Branch a new run off ``run_key`` after its round ``at_round``.

        The branch inherits the parent's labelled set, rounds and selections up to ``at_round``
        and continues with ``filter`` / ``strategy`` (default: the parent's) and filter
        parameters ``params`` (e.g. ``n_anchors=50``); both stay in :attr:`runs`, comparable.
        """
        parent = self.run_by_key(run_key)
        at_round = check_int("at_round", at_round, 0)
        if at_round > parent.round:
            raise ParameterError(f"at_round={at_round} is after run {run_key}'s last round "
                                 f"({parent.round}); fork from a completed round")
        unknown = sorted(set(params) - set(self.filter_params))
        if unknown:
            raise ParameterError(f"fork parameter(s) {', '.join(unknown)} unknown; choose from "
                                 f"{', '.join(self.filter_params)}")
        f = str(filter or parent.filter_name).strip().lower()
        s = str(strategy or parent.strategy_name).strip().lower()
        flt = make_filter(f, s, **{**self.filter_params, **params})
        mdl = make_model(self.model_name, self.prepared, random_state=self.seed,
                         X=self.vectors, **self.model_params)
        run = Run(self, flt.name, flt.base.name, flt, mdl)
        key = RunKey.of(flt.name, flt.base.name, params, parent=parent.key, at_round=at_round)
        taken = {r.key for r in self.runs}
        while str(key) in taken:
            key = key.with_copy(key.copy + 1)
        run.branch_from(parent, at_round, str(key), params)
        with self._lock:
            self.runs.append(run)
        return run

    # -- setup ------------------------------------------------------------------------------
    def check_rounds(self, n_rounds):
        """Raise :class:`ParameterError` if ``n_rounds`` more rounds would exhaust the pool."""
        n_rounds = check_int("rounds", n_rounds)
        done = max((r.round for r in self.runs), default=0) if hasattr(self, "runs") else 0
        need = self.init_size + (max(done, 0) + n_rounds) * self.query_size
        have = len(self.train_ids)
        if need > have:
            most = max((have - self.init_size) // self.query_size - max(done, 0), 0)
            raise ParameterError(
                f"rounds={n_rounds} would exhaust the pool: init_size + rounds x query_size = "
                f"{need:,} > {have:,} rows in the training pool; use rounds <= {most}")
        return n_rounds

    def encode_labels(self, labels, n):
        """Class indices for ``labels`` (names or indices; ``-1`` / ``None`` = skip)."""
        labels = list(labels)
        if len(labels) != n:
            raise ParameterError(f"labels has {len(labels)} entries for {n} proposed rows; give "
                                 "one label per proposed id")
        out = []
        for v in labels:
            if v is None or (isinstance(v, (int, np.integer)) and v == -1):
                out.append(-1)
            elif isinstance(v, (int, np.integer)) and 0 <= v < self.n_classes:
                out.append(int(v))
            elif isinstance(v, str) and v in self.dataset.classes:
                out.append(self.dataset.classes.index(v))
            else:
                raise ParameterError(f"label {v!r} is not a class; use one of "
                                     f"{', '.join(self.dataset.classes)} (or -1 to skip)")
        return np.asarray(out, np.int64)

    # -- driving ----------------------------------------------------------------------------
    def run_by_key(self, key) -> Run:
        for r in self.runs:
            if r.key == key:
                return r
        raise ParameterError(f"run {key!r} is not part of this experiment; choose one of "
                             f"{', '.join(r.key for r in self.runs)}")

    def start(self, callback=None):
        """Record round 0 (initial-set model) of every run; idempotent."""
        with self._lock:
            for run in self.runs:
                fresh = not run.records
                rec = run.start()
                if fresh and callback is not None:
                    callback(run, rec)

    def step(self, callback=None, cancel=None):
        """One round of every run (simulated oracle). Returns the new records.

        ``callback(run, record)`` is called after each run's round; ``cancel`` (a
        ``threading.Event``) is checked between runs.
        """
        self.start(callback)
        out = []
        with self._lock:
            self.check_rounds(1)
            for run in self.runs:
                if cancel is not None and cancel.is_set():
                    break
                rec = run.step()
                out.append(rec)
                if callback is not None:
                    callback(run, rec)
        return out

    def run(self, n_rounds, callback=None, cancel=None, progress=None):
        """Run ``n_rounds`` more rounds of every run; returns the number of rounds completed.

        ``progress(done, total)`` is called after every round; ``cancel`` stops within one run's
        round.
        """
        self.check_rounds(n_rounds)
        self.start(callback)
        for i in range(n_rounds):
            if cancel is not None and cancel.is_set():
                return i
            if len(self.step(callback, cancel)) < len(self.runs):  # cancelled mid-round
                return i
            if progress is not None:
                progress(i + 1, n_rounds)
        return n_rounds

    # -- tables -----------------------------------------------------------------------------
    def rounds_frame(self) -> pd.DataFrame:
        """One row per run x round; columns :data:`ROUND_COLUMNS`, ``f1_<class>`` per class, and
        list columns ``anchor_ids``, ``subpool_ids``, ``queried_ids``, ``queried_labels``, then
        the stopping columns :data:`~explorer.stopping.STOP_COLUMNS` (defaults of
        :func:`~explorer.stopping.add_stopping_columns`)."""
        frames = [r.rounds_frame() for r in self.runs if r.records]
        if not frames:
            return pd.DataFrame(columns=ROUND_COLUMNS + STOP_COLUMNS)
        return add_stopping_columns(pd.concat(frames, ignore_index=True))

    def queries_frame(self) -> pd.DataFrame:
        """One row per queried id; columns :data:`QUERY_COLUMNS`."""
        return pd.concat([r.queries_frame() for r in self.runs], ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """Per run: final minority share, final minority F1, minority-F1 AUC, total and mean
        per-round selection time, total training time."""
        rows = []
        for r in self.runs:
            df = r.rounds_frame()
            sel = df["t_selection"].iloc[1:] if len(df) > 1 else pd.Series(dtype=float)
            rows.append({
                "filter": r.filter_name, "strategy": r.strategy_name, "rounds": r.round,
                "n_labelled": len(r.labelled),
                "minority_share": df["minority_share"].iloc[-1] if len(df) else np.nan,
                "minority_f1": df["minority_f1"].iloc[-1] if len(df) else np.nan,
                "minority_f1_auc": r.auc(),
                "mean_subpool": df["subpool_size"].iloc[1:].mean() if len(df) > 1 else np.nan,
                "t_selection_total": float(sel.sum()),
                "t_selection_mean": float(sel.mean()) if len(sel) else np.nan,
                "t_train_total": float(df["t_train"].sum()) if len(df) else np.nan,
            })
        return pd.DataFrame(rows)

    def save(self, out_dir):
        """Write ``rounds.parquet`` and ``queries.parquet`` under ``out_dir``; returns the paths.

        The one writer of these two tables (``anchoral simulate`` and saved sessions use it).
        """
        return save_tables(out_dir, self.rounds_frame(), self.queries_frame())


def simulate(prepared, n_rounds, runs=(("anchoral", "entropy"), ("full", "entropy")),
             callback=None, cancel=None, **params) -> Experiment:
    """Build an :class:`Experiment` and run ``n_rounds`` rounds of every run."""
    exp = Experiment(prepared, runs, n_rounds=n_rounds, **params)
    exp.run(n_rounds, callback=callback, cancel=cancel)
    return exp
