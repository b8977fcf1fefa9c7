"""The explorer's bridge to the engine: :class:`explorer.session.Experiment`, by its contract.

:class:`EngineDriver` builds an experiment from the session's settings and turns each run's round
into a :class:`~explorer.ui.state.RoundRecord` (copies, so views never read engine objects that a
worker thread is changing).
"""

from __future__ import annotations

import numpy as np

from .state import RoundRecord

_METRIC_DROP = ("anchor_ids", "subpool_ids", "queried_ids", "queried_labels")


class EngineDriver:
    """Drive an :class:`~explorer.session.Experiment` one run-round at a time.

    Parameters
    ----------
    prepared : Prepared
    filters : list of str
        Compared filters; one run per filter with the base ``strategy``.
    strategy, model, query_size, init_size, seed, n_anchors, n_neighbors, subpool_size,
    anchor_strategy, sampling, minority_anchors
        The session's settings (``minority_anchors`` is the engine's ``minority_only``).
    """

    def __init__(self, prepared, *, filters, strategy, model="lr", query_size=25, init_size=100,
                 seed=0, n_anchors=10, n_neighbors=50, subpool_size=None,
                 anchor_strategy="kmeans++", sampling="topk", minority_anchors=False, **_):
        from ..session import Experiment

        self.experiment = Experiment(
            prepared, [(f, strategy) for f in filters], model=model, query_size=query_size,
            init_size=init_size, seed=seed, subpool_size=subpool_size, n_anchors=n_anchors,
            n_neighbors=n_neighbors, anchor_strategy=anchor_strategy, sampling=sampling,
            minority_only=minority_anchors)
        self._runs = {r.key: r for r in self.experiment.runs}
        self.runs = list(self._runs)
        self.initial_ids = np.asarray(self.experiment.initial_ids, np.int64).copy()
        self.pool_minority_share = float(self.experiment.pool_minority_share)

    def model(self, key):
        return self._runs[key].model

    def step_run(self, key) -> RoundRecord:
        """One simulated round of run ``key`` (propose, reveal gold labels, retrain, evaluate)."""
        run = self._runs[key]
        if not run.records:
            run.start()
        if run.pending is None:
            self.experiment.check_rounds(1)
        before = run.labelled.copy()
        rec = run.step()
        sel = run.selections[-1]
        metrics = {k: v for k, v in rec.items() if k not in _METRIC_DROP}
        return RoundRecord(
            run=key, round=int(rec["round"]), labelled=before,
            anchors=np.asarray(sel.anchors, np.int64).copy(),
            subpool=np.asarray(sel.subpool, np.int64).copy(),
            queried=np.asarray(sel.ids, np.int64).copy(),
            scores=np.asarray(sel.scores, np.float64).copy(),
            anchor_of=np.asarray(sel.anchor_id, np.int64).copy(),
            similarity=np.asarray(sel.similarity, np.float64).copy(),
            metrics=metrics)
