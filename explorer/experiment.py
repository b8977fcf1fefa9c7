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

import re
import threading
import time

import numpy as np
import pandas as pd

from ._validation import check_int
from .exceptions import DataError, ParameterError
from .filters import PoolContext, make_filter
from .metrics import curve_auc, evaluate, minority_share
from .models import make_model
from .runs import (QUERY_COLUMNS, ROUND_COLUMNS, RoundResult, RunKey, empty_queries_frame,
                   save_tables)
from .settings import PAPER_SUBPOOL_SIZE, check_settings, default_subpool_size
from .splits import holdout_split, initial_set, round_rng
from .stopping import STOP_COLUMNS, add_stopping_columns
from .strategies import STRATEGIES

__all__ = ["Experiment", "Run", "check_settings", "simulate", "save_tables", "default_subpool_size",
           "PAPER_SUBPOOL_SIZE", "ROUND_COLUMNS", "QUERY_COLUMNS", "STRATEGIES", "RoundResult",
           "RunKey"]


def _safe(name):
    return re.sub(r"[^0-9A-Za-z_]+", "_", str(name)).strip("_") or "class"


class Run:
    """One filter x strategy active-learning run inside an :class:`Experiment`.

    Attributes
    ----------
    filter_name, strategy_name : str
    pool_filter : PoolFilter
    model : Classifier
    labelled : int64 array          labelled ids, in the order they were labelled
    labels : int64 array            their classes
    records : list of RoundResult   one per completed round (round 0 = initial set)
    selections : list               the :class:`~explorer.filters.Selection` of each round
                                    (``None`` for round 0)
    proposal : Selection or None    the batch :meth:`propose` selected, until :meth:`commit`
    chosen_rounds : list of int     rounds whose batch a person chose (:meth:`choose`), not the
                                    filter
    """

    def __init__(self, experiment, filter_name, strategy_name, pool_filter, model):
        self.experiment = experiment
        self.filter_name = filter_name
        self.strategy_name = strategy_name
        self.pool_filter = pool_filter
        self.model = model
        self.labelled = np.empty(0, np.int64)
        self.labels = np.empty(0, np.int64)
        self.skipped = np.empty(0, np.int64)
        self.records = []
        self.selections = []
        self.proposal = None
        self.parent = None      # key of the run this one was forked from
        self.fork_round = 0     # last round inherited from the parent
        self.params = {}        # filter parameters that differ from the experiment's
        self.branch = None      # display key of a fork
        self.chosen_rounds = []  # rounds whose batch a person chose (choose), not the filter
        self._chosen = False     # the open proposal is a chosen batch

    @property
    def key(self) -> str:
        return self.branch or f"{self.filter_name}/{self.strategy_name}"

    @property
    def round(self) -> int:
        """The last completed round (-1 before :meth:`start`)."""
        return len(self.records) - 1

    def unlabelled(self) -> np.ndarray:
        """Ids that may still be queried: training pool minus labelled and skipped (sorted)."""
        return self._pool()[0]

    def _pool(self):
        """``(unlabelled ids, excluded mask)``. Built once from the whole pool, then updated by
        :meth:`commit` with the round's ids only; rebuilt when ``labelled`` / ``skipped`` were
        replaced from outside (fork, resume). Treat both arrays as read-only."""
        cache = getattr(self, "_pool_cache", None)
        if cache is None or cache[0] is not self.labelled or cache[1] is not self.skipped:
            exp = self.experiment
            done = np.union1d(self.labelled, self.skipped)
            unl = np.setdiff1d(exp.train_ids, done, assume_unique=True)
            excluded = np.ones(exp.dataset.n, bool)  # a mask: cheap to search with
            excluded[unl] = False
            cache = self._pool_cache = (self.labelled, self.skipped, unl, excluded)
        return cache[2], cache[3]

    def _pool_after(self, ids):
        """The pool minus ``ids`` (binary search in the sorted ids; the mask is copied, never
        changed under a context that holds it)."""
        unl, excluded = self._pool()
        ids = np.asarray(ids, np.int64)
        pos = np.searchsorted(unl, ids)
        pos = pos[(pos < len(unl)) & (unl[np.minimum(pos, len(unl) - 1)] == ids)] \
            if len(unl) else pos[:0]
        excluded = excluded.copy()
        excluded[ids] = True
        return np.delete(unl, pos), excluded

    def branch_from(self, parent, at_round, key, params=None):
        """Become a fork of ``parent`` after its round ``at_round`` under the key ``key``: take
        its labelled set, skipped rows, rounds and selections up to there, and refit."""
        self.parent, self.fork_round, self.params = parent.key, at_round, dict(params or {})
        self.branch = key
        n = parent.records[at_round].n_labelled
        self.labelled, self.labels = parent.labelled[:n].copy(), parent.labels[:n].copy()
        skipped = [np.asarray(rec.queried_ids, np.int64)[np.asarray(rec.queried_labels) < 0]
                   for rec in parent.records[1:at_round + 1]]
        self.skipped = np.concatenate(skipped) if skipped else np.empty(0, np.int64)
        self.records = [rec.relabel(key, self.filter_name, self.strategy_name)
                        for rec in parent.records[:at_round + 1]]
        self.chosen_rounds = [r for r in parent.chosen_rounds if r <= at_round]
        self.selections = list(parent.selections[:at_round + 1])
        self._fit()
        return self

    # -- rounds -----------------------------------------------------------------------------
    def start(self):
        """Train on the initial set and record round 0 (idempotent)."""
        if self.records:
            return self.records[0]
        exp = self.experiment
        self.labelled = exp.initial_ids.copy()
        self.labels = exp.dataset.y[self.labelled].astype(np.int64)
        t_train = self._fit()
        rec = self._record(0, None, t_train)
        self.selections.append(None)
        self.records.append(rec)
        return rec

    def context(self) -> PoolContext:
        exp = self.experiment
        unl, excluded = self._pool()
        return PoolContext(model=self.model, index=exp.prepared.index,
                           embeddings=exp.prepared.embeddings, labelled=self.labelled,
                           labels=self.labels, unlabelled=unl, excluded=excluded,
                           n_classes=exp.n_classes, minority=exp.minority,
                           round=self.round + 1)

    def propose(self):
        """Select the next round's batch without revealing labels (repeat calls return the same
        :class:`~explorer.filters.Selection` until :meth:`commit`)."""
        if not self.records:
            self.start()
        if self.proposal is None:
            exp = self.experiment
            ctx = self.context()
            if len(ctx.unlabelled) == 0:
                raise ParameterError(
                    f"run {self.key}: the unlabelled pool is exhausted after round {self.round}; "
                    "use fewer rounds or a smaller query_size"
                )
            self.proposal = self.pool_filter.select(ctx, exp.query_size,
                                                    round_rng(exp.seed, ctx.round))
        return self.proposal

    def choose(self, ids):
        """Make the rows ``ids`` (chosen by a person, e.g. a selection on the map) the next
        batch instead of the filter's proposal; :meth:`commit` labels them as one round.

        Rows already labelled or skipped are left out; the order is kept. Returns the
        :class:`~explorer.filters.Selection` (no anchors, no subpool beyond the rows, no scores).
        """
        from .filters import Selection

        if not self.records:
            self.start()
        n = self.experiment.dataset.n
        ids = np.asarray(ids, np.int64).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= n):
            raise ParameterError(f"ids must be row ids between 0 and {n - 1}, got "
                                 f"{int(ids.min())}..{int(ids.max())}; choose rows of this pool")
        _, first = np.unique(ids, return_index=True)
        ids = ids[np.sort(first)]
        unl, _ = self._pool()
        ids = ids[np.isin(ids, unl)]
        if not ids.size:
            raise ParameterError(f"run {self.key}: none of the chosen rows can be queried (every "
                                 "one is labelled, skipped or a test row); choose others")
        m = len(ids)
        nan = np.full(m, np.nan)
        self.proposal = Selection(ids=ids, scores=nan, anchor_id=np.full(m, -1, np.int64),
                                  similarity=nan.copy(), subpool=ids.copy(),
                                  subpool_score=nan.copy(), anchors=np.empty(0, np.int64),
                                  pairs={"id": np.empty(0, np.int64),
                                         "anchor_id": np.empty(0, np.int64),
                                         "similarity": np.empty(0)},
                                  n_unlabelled=len(unl), n_encoded=0)
        self._chosen = True
        return self.proposal

    def commit(self, labels=None) -> RoundResult:
        """Reveal the proposed batch's labels, retrain and evaluate; returns the round's result.

        Parameters
        ----------
        labels : None or sequence, aligned with ``propose().ids``
            ``None``: the simulated oracle reveals the gold labels. Otherwise class indices or
            class names; ``-1`` / ``None`` skips a row (it is never proposed again and not trained on).
        """
        sel = self.propose()
        exp = self.experiment
        if labels is None and exp.mode == "annotate":
            raise ParameterError(
                f"run {self.key}: this session has no gold labels to reveal (annotate mode); "
                "give the batch's labels")
        if labels is None:
            y = exp.dataset.y[sel.ids].astype(np.int64)
        else:
            y = exp.encode_labels(labels, len(sel.ids))
        keep = y >= 0
        unl, excluded = self._pool_after(sel.ids)
        self.labelled = np.concatenate([self.labelled, sel.ids[keep]])
        self.labels = np.concatenate([self.labels, y[keep]])
        self.skipped = np.concatenate([self.skipped, sel.ids[~keep]])
        self._pool_cache = (self.labelled, self.skipped, unl, excluded)
        t_train = self._fit()
        rec = self._record(self.round + 1, sel, t_train, y)
        self.selections.append(sel)
        self.records.append(rec)
        if getattr(self, "_chosen", False):
            self.chosen_rounds = [*self.chosen_rounds, rec.round]
        self.proposal, self._chosen = None, False
        return rec

    def preview(self, strategy=None, **params):
        """What the next round would select with other settings, without changing the run.

        ``params`` override filter parameters (``n_anchors``, ``n_neighbors``, ``subpool_size``,
        ``anchor_strategy``, ``minority_only``, ``sampling``, ``temperature``); ``strategy``
        the base strategy. Returns ``(selection, class_mix)`` where ``class_mix`` counts the
        subpool's rows per class name: by gold label in simulation, by the current model's
        predicted label in annotate mode.
        """
        import copy

        if not self.records:
            self.start()
        exp = self.experiment
        unknown = sorted(set(params) - set(exp.filter_params))
        if unknown:
            raise ParameterError(f"preview parameter(s) {', '.join(unknown)} unknown; choose "
                                 f"from {', '.join(exp.filter_params)}")
        flt = copy.deepcopy(self.pool_filter)  # SEALS keeps state between rounds: work on a copy
        for k, v in params.items():
            if hasattr(flt, k):
                setattr(flt, k, v)
        if strategy is not None:
            from .strategies import make_strategy

            flt.base = make_strategy(strategy)
        ctx = self.context()
        sel = flt.select(ctx, exp.query_size, round_rng(exp.seed, ctx.round))
        if exp.mode == "annotate":
            pred = (self.model.predict_proba(sel.subpool).argmax(axis=1)
                    if len(sel.subpool) else np.empty(0, np.int64))
        else:
            pred = exp.dataset.y[sel.subpool]
            pred = pred[pred >= 0]
        counts = np.bincount(pred, minlength=exp.n_classes)
        return sel, {name: int(c) for name, c in zip(exp.dataset.classes, counts)}

    def step(self):
        """One simulated round: propose, then commit the gold labels."""
        self.propose()
        return self.commit()

    def _fit(self):
        t0 = time.perf_counter()
        self.model.fit(self.labelled, self.labels)
        return time.perf_counter() - t0

    def _record(self, rnd, sel, t_train, y_queried=None) -> RoundResult:
        exp = self.experiment
        t0 = time.perf_counter()
        encoded = getattr(self.model, "n_encoded_", None)
        if exp.test_ids.size:
            pred = self.model.predict_proba(exp.test_ids).argmax(axis=1)
            if encoded is not None:  # evaluation is not selection: keep the scoring count honest
                self.model.n_encoded_ = encoded
            m = evaluate(exp.dataset.y[exp.test_ids], pred, exp.n_classes, exp.minority)
        else:
            m = {"minority_f1": np.nan, "majority_f1": np.nan, "macro_f1": np.nan,
                 "per_class_f1": [np.nan] * exp.n_classes}
        t_eval = time.perf_counter() - t0
        n_min = int(np.isin(self.labels, exp.minority).sum())
        fields = {}
        if sel is not None:
            gold = exp.dataset.y[sel.subpool]
            fields = dict(
                n_queried=len(sel.ids), subpool_size=len(sel.subpool), n_anchors=len(sel.anchors),
                subpool_minority_share=minority_share(gold[gold >= 0], exp.minority),
                t_retrieval=sel.t_retrieval, t_scoring=sel.t_scoring, t_selection=sel.t_selection,
                anchor_ids=tuple(sel.anchors.tolist()), subpool_ids=tuple(sel.subpool.tolist()),
                queried_ids=tuple(sel.ids.tolist()), n_unlabelled=int(sel.n_unlabelled),
                n_scored=int(sel.n_scored), n_encoded=int(sel.n_encoded),
                pool_minority_share=self._pool_share(sel))
        if y_queried is not None:
            fields["queried_labels"] = tuple(np.asarray(y_queried).tolist())
            y_q = np.asarray(y_queried, np.int64)
            fields["queried_minority_share"] = minority_share(y_q[y_q >= 0], exp.minority)
        return RoundResult(
            run=self.key, filter=self.filter_name, strategy=self.strategy_name,
            model=exp.model_name, seed=exp.seed, round=rnd, n_labelled=len(self.labelled),
            n_minority=n_min, minority_share=n_min / max(len(self.labelled), 1),
            t_train=t_train, t_eval=t_eval, minority_f1=m["minority_f1"],
            majority_f1=m["majority_f1"], macro_f1=m["macro_f1"],
            n_encoded_actual=encoded is not None,
            class_f1=tuple((f"f1_{_safe(name)}", f1)
                           for name, f1 in zip(exp.dataset.classes, m["per_class_f1"])),
            **fields)

    def _pool_share(self, sel):
        """Minority share (gold labels) of the unlabelled pool ``sel`` was chosen from; NaN in
        annotate mode. Counts only the rows labelled or skipped so far, not the whole pool."""
        exp = self.experiment
        if exp.mode == "annotate":
            return np.nan
        done = np.setdiff1d(np.concatenate([self.labelled, self.skipped]), sel.ids)
        gold = exp.dataset.y[done]
        n = exp.pool_counts_[0] - int((gold >= 0).sum())
        n_min = exp.pool_counts_[1] - int(np.isin(gold, exp.minority).sum())
        return n_min / n if n > 0 else np.nan

    # -- summaries --------------------------------------------------------------------------
    def auc(self) -> float:
        """Normalised area under the minority-F1 curve over rounds (round 0 included)."""
        return curve_auc([r.minority_f1 for r in self.records])

    def rounds_frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.to_row() for r in self.records])

    def queries_frame(self) -> pd.DataFrame:
        rows = []
        for rec, sel in zip(self.records, self.selections):
            if sel is None:
                continue
            rows.append(pd.DataFrame({
                "filter": self.filter_name, "strategy": self.strategy_name,
                "seed": self.experiment.seed, "round": rec.round, "id": sel.ids,
                "label": np.asarray(rec.queried_labels, np.int64), "score": sel.scores,
                "anchor_id": sel.anchor_id, "similarity": sel.similarity,
            }))
        return pd.concat(rows, ignore_index=True) if rows else empty_queries_frame()


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
        self.runs = []
        for f, s in ok["runs"]:
            flt = make_filter(f, s, **self.filter_params)
            mdl = make_model(self.model_name, prepared, random_state=self.seed,
                             **self.model_params)
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
                         **self.model_params)
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
