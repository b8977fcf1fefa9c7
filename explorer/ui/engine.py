"""The explorer's bridge to the engine: :class:`explorer.experiment.Experiment`, by its contract.

:class:`EngineDriver` builds an experiment from the session's settings (or opens a saved
session directory) and turns each run's round into a :class:`~explorer.ui.state.RoundRecord`
(copies, so views never read engine objects that a worker thread is changing). When it is bound
to a session directory (:mod:`explorer.store`), every committed round is saved before it returns.
"""

from __future__ import annotations

import numpy as np

from .state import RoundRecord

#: state settings -> Experiment keyword arguments (the rest are the app's own)
_EXPERIMENT_ARGS = {"model": "model", "query_size": "query_size", "init_size": "init_size",
                    "seed": "seed", "subpool_size": "subpool_size", "n_anchors": "n_anchors",
                    "n_neighbors": "n_neighbors", "anchor_strategy": "anchor_strategy",
                    "sampling": "sampling", "minority_anchors": "minority_only"}


def is_annotate_data(prepared) -> bool:
    """True when the data lacks gold labels for some rows (annotate mode)."""
    return not prepared.dataset.fully_labelled


def experiment_settings(prepared, settings) -> dict:
    """The :class:`~explorer.experiment.Experiment` keyword arguments of the app's settings."""
    out = {dst: settings[src] for src, dst in _EXPERIMENT_ARGS.items() if src in settings}
    out["mode"] = "annotate" if is_annotate_data(prepared) else "simulate"
    return out


class EngineDriver:
    """Drive an :class:`~explorer.experiment.Experiment` one run-round at a time.

    Parameters
    ----------
    prepared : Prepared
    filters : list of str
        Compared filters; one run per filter with the base ``strategy``.
    strategy, model, query_size, init_size, seed, n_anchors, n_neighbors, subpool_size,
    anchor_strategy, sampling, minority_anchors
        The session's settings (``minority_anchors`` is the engine's ``minority_only``).
    """

    def __init__(self, prepared, *, filters, strategy, session=None, **settings):
        if session is not None:
            self._bind(session.experiment, session, session.settings)
            return
        from ..experiment import Experiment

        kwargs = experiment_settings(prepared, settings)
        self._bind(Experiment(prepared, [(f, strategy) for f in filters], **kwargs), None,
                   kwargs)

    def _bind(self, experiment, session, settings):
        self.experiment = experiment
        self.session = session
        self.settings = dict(settings)
        self.mode = experiment.mode
        self.initial_ids = np.asarray(experiment.initial_ids, np.int64).copy()
        self.pool_minority_share = float(experiment.pool_minority_share)
        self._pending = {}
        self._given_by = {}  # (run key, round) -> (source, user) without a session

    @classmethod
    def open(cls, path, prepared, progress=None):
        """A driver over the saved session in ``path`` (replayed to where it stopped)."""
        from ..store import open_session

        return cls(prepared, filters=(), strategy="", session=open_session(
            path, prepared=prepared, progress=progress))

    def save_as(self, path, data_spec):
        """Save the experiment so far as a new session in ``path``; later rounds are saved too."""
        from ..store import save_experiment

        meta = {k: {"source": src, "user": user, "time": ""}
                for k, (src, user) in self._given_by.items()}
        self.session = save_experiment(path, self.experiment, data_spec, self.settings, meta)
        return self.session

    def close(self):
        if self.session is not None:
            self.session.close()

    # ----------------------------------------------------------------------------- reading
    @property
    def runs(self) -> list:
        return [r.key for r in self.experiment.runs]

    def run(self, key):
        return self.experiment.run_by_key(key)

    def model(self, key):
        return self.run(key).model

    def start(self):
        self.experiment.start()

    def source(self, key, rnd):
        if self.session is not None:
            return self.session.label_source(key, rnd)
        return self._given_by.get((key, rnd), ("oracle", ""))[0]

    def record(self, key, rnd) -> RoundRecord:
        """Round ``rnd`` (>= 1) of run ``key`` as a :class:`RoundRecord`."""
        run = self.run(key)
        rec, sel = run.records[rnd], run.selections[rnd]
        before = run.labelled[:run.records[rnd - 1].n_labelled]
        return _from_selection(key, int(rec.round), before, sel, metrics=rec.metrics(),
                               labels=np.asarray(rec.queried_labels, np.int64).copy(),
                               source=self.source(key, rnd))

    def history(self, key) -> list:
        run = self.run(key)
        return [self.record(key, r) for r in range(1, run.round + 1)]

    # ----------------------------------------------------------------------------- writing
    def step_run(self, key) -> RoundRecord:
        """One simulated round of run ``key`` (propose, reveal gold labels, retrain, evaluate)."""
        run = self.run(key)
        if not run.records:
            run.start()
        if run.proposal is None:
            self.experiment.check_rounds(1)
        if self.session is not None:
            self.session.commit(key, None)
        else:
            run.step()
        return self.record(key, run.round)

    def propose(self, key) -> RoundRecord:
        """The next batch of run ``key`` (selected, not labelled) as a record of the next round."""
        run = self.run(key)
        sel = run.propose()
        return _from_selection(key, run.round + 1, run.labelled, sel,
                               metrics={"subpool_size": len(sel.subpool)}, proposed=True)

    def commit(self, key, labels, user) -> RoundRecord:
        """A person's labels (class names, None = skip) for run ``key``'s proposed batch."""
        run = self.run(key)
        if self.session is not None:
            self.session.commit(key, list(labels), user=user)
        else:
            run.commit(list(labels))
            self._given_by[(key, run.round)] = ("human", user)
        self._pending.pop(key, None)
        return self.record(key, run.round)

    def pending(self, key) -> dict:
        """Labels given so far to run ``key``'s open batch: {id: class name or None}."""
        if self.session is not None:
            raw = self.session.pending().get(key, {})
            return {int(k): v for k, v in raw.items()}
        return dict(self._pending.get(key, {}))

    def save_pending(self, key, labels: dict):
        if self.session is not None:
            self.session.save_pending(key, labels)
        else:
            self._pending[key] = dict(labels)

    def fork(self, key, at_round, strategy=None, **params) -> str:
        """Branch run ``key`` after ``at_round``; returns the new run's key."""
        if self.session is not None:
            run = self.session.fork(key, at_round, strategy=strategy, **params)
        else:
            run = self.experiment.fork(key, at_round, strategy=strategy, **params)
            for rnd in range(1, at_round + 1):
                if (key, rnd) in self._given_by:
                    self._given_by[(run.key, rnd)] = self._given_by[(key, rnd)]
        return run.key

    def preview(self, key, strategy=None, **params):
        """``(selection, class_mix)`` of run ``key``'s next round with other settings; no change."""
        return self.run(key).preview(strategy, **params)

    def snapshot(self, path, data_spec):
        """Write the experiment so far as a session in ``path`` (for exports); stays unbound."""
        from ..store import save_experiment

        meta = {k: {"source": src, "user": user, "time": ""}
                for k, (src, user) in self._given_by.items()}
        if self.session is not None:
            meta = dict(self.session.provenance)
        save_experiment(path, self.experiment, data_spec, self.settings, meta).close()
        return path

    def filter_params(self) -> dict:
        return dict(self.experiment.filter_params)


def _from_selection(key, rnd, labelled, sel, **fields) -> RoundRecord:
    """A :class:`RoundRecord` holding copies of a selection's arrays (the engine keeps its own)."""
    return RoundRecord(
        run=key, round=rnd, labelled=np.asarray(labelled, np.int64).copy(),
        anchors=np.asarray(sel.anchors, np.int64).copy(),
        subpool=np.asarray(sel.subpool, np.int64).copy(),
        queried=np.asarray(sel.ids, np.int64).copy(),
        scores=np.asarray(sel.scores, np.float64).copy(),
        anchor_of=np.asarray(sel.anchor_id, np.int64).copy(),
        similarity=np.asarray(sel.similarity, np.float64).copy(),
        **fields)
