"""One active-learning run (a pool filter over a base strategy, with its model) round by round.

A :class:`Run` belongs to an :class:`~explorer.experiment.Experiment`, which holds the pool, the
split, the initial set and the seed its runs share; a round is :meth:`Run.propose` (select,
nothing revealed) then :meth:`Run.commit` (reveal, retrain, evaluate), or :meth:`Run.choose`
for a batch a person chose.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd

from .exceptions import ParameterError
from .filters import PoolContext
from .metrics import curve_auc, evaluate, minority_share
from .runs import RoundResult, empty_queries_frame
from .splits import round_rng

__all__ = ["Run"]


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
        # the rows between the removed positions, joined: one copy of the pool's ids (np.delete
        # builds a mask of the whole pool: 0.4 s a round at 10M rows)
        cuts = np.r_[-1, np.unique(pos), len(unl)]
        return np.concatenate([unl[a + 1:b] for a, b in zip(cuts[:-1], cuts[1:])]), excluded

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


