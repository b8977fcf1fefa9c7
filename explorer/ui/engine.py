"""The explorer's engine: a library session (``store.Session``) behind the ``ExperimentDriver`` contract.

:class:`EngineDriver` always holds a session: in memory for a comparison built from the app's
settings (saved later with :meth:`EngineDriver.save_as`), or opened from a session directory. It
turns each run's round into a :class:`~explorer.ui.records.RoundRecord` (copies, so views never
read engine objects that a worker thread is changing). Provenance, pending labels and saving are
the session's: a session bound to a directory saves every committed round before it returns.
"""

from __future__ import annotations

import numpy as np

from ..settings import experiment_kwargs
from .records import RoundRecord, ids_of


class EngineDriver:
    """Drive a :class:`~explorer.store.Session` one run-round at a time.

    Parameters
    ----------
    prepared : Prepared
    filters : list of str
        Compared filters; one run per filter with the base ``strategy``.
    strategy : str
    session : Session, optional
        A session opened from a directory (:meth:`open`); else one is built in memory from
        ``filters``, ``strategy`` and ``settings``.
    **settings
        The app's settings (:meth:`ExplorerState.settings`); the experiment's are used.
    """

    def __init__(self, prepared, *, filters=(), strategy="entropy", session=None, **settings):
        if session is None:
            from ..experiment import Experiment
            from ..store import Session

            kwargs = experiment_kwargs(settings, prepared.dataset)
            experiment = Experiment(prepared, [(f, strategy) for f in filters], **kwargs)
            session = Session.in_memory(experiment, settings=kwargs)
        self.session = session
        self.experiment = session.experiment
        self.mode = self.experiment.mode
        self.initial_ids = ids_of(self.experiment.initial_ids)
        self.pool_minority_share = float(self.experiment.pool_minority_share)

    @classmethod
    def open(cls, path, prepared, progress=None, wait_s=0.0, manifest=None) -> EngineDriver:
        """A driver over the saved session in ``path`` (replayed to where it stopped); waits up
        to ``wait_s`` seconds for its writer lock, then raises
        :class:`~explorer.exceptions.SessionLockedError`. ``manifest``: the session's
        ``session.json`` already read and checked (:func:`explorer.store.check_session`)."""
        from ..store import open_session

        return cls(prepared, session=open_session(path, prepared=prepared, progress=progress,
                                                  wait_s=wait_s, manifest=manifest))

    # ------------------------------------------------------------------------ the session
    @property
    def session_path(self) -> str | None:
        return None if self.session.path is None else str(self.session.path)

    def save_as(self, path, data_spec) -> None:
        """Save the comparison so far as a new session in ``path``; later rounds are saved too."""
        self.session.data_spec = dict(data_spec)
        self.session.save_as(path)

    def export(self, what, out, fmt):
        """Write ``what`` (labels, rounds, queries, plots) to the file ``out``
        (:func:`explorer.export.export`), saved or not."""
        from ..export import export

        return export(self.session, what, out, fmt)

    def close(self) -> None:
        self.session.close()

    # ----------------------------------------------------------------------------- reading
    @property
    def runs(self) -> list:
        return [r.key for r in self.experiment.runs]

    def run(self, key):
        return self.experiment.run_by_key(key)

    def model(self, key):
        return self.run(key).model

    def start(self) -> None:
        self.experiment.start()

    def record(self, key, rnd) -> RoundRecord:
        """Round ``rnd`` (>= 1) of run ``key`` as a :class:`RoundRecord`."""
        run = self.run(key)
        result, sel = run.records[rnd], run.selections[rnd]
        before = run.labelled[:run.records[rnd - 1].n_labelled]
        return _from_selection(key, result.round, before, sel, result=result,
                               labels=ids_of(result.queried_labels),
                               label_source=self.session.label_source(key, rnd))

    def history(self, key) -> list:
        run = self.run(key)
        return [self.record(key, r) for r in range(1, run.round + 1)]

    def pending(self, key) -> dict:
        """Labels given so far to run ``key``'s open batch: {id: class name or None}."""
        return {int(k): v for k, v in self.session.pending().get(key, {}).items()}

    def filter_params(self) -> dict:
        return dict(self.experiment.filter_params)

    # ----------------------------------------------------------------------------- writing
    def step_run(self, key) -> RoundRecord:
        """One simulated round of run ``key`` (propose, reveal gold labels, retrain, evaluate)."""
        run = self.run(key)
        if not run.records:
            run.start()
        if run.proposal is None:
            self.experiment.check_rounds(1)
        self.session.commit(key, None)
        return self.record(key, run.round)

    def propose(self, key) -> RoundRecord:
        """The next batch of run ``key`` (selected, not labelled) as a record of the next round."""
        run = self.run(key)
        sel = run.propose()
        return _from_selection(key, run.round + 1, run.labelled, sel, proposed=True)

    def choose(self, key, ids) -> RoundRecord:
        """Rows a person chose as run ``key``'s next batch (``explorer.experiment.Run.choose``)."""
        run = self.run(key)
        sel = run.choose(ids)
        return _from_selection(key, run.round + 1, run.labelled, sel, proposed=True)

    def save_pending(self, key, labels: dict) -> None:
        self.session.save_pending(key, labels)

    def decide(self, key, row_id, label, author) -> None:
        self.session.decide(key, row_id, label, author=author)

    def undo(self, key, row_id, author) -> None:
        self.session.undo(key, row_id, author=author)

    def decisions(self, row_id):
        return self.session.history(row_id)

    def commit(self, key, labels, user) -> RoundRecord:
        """A person's labels (class names, None = skip) for run ``key``'s proposed batch."""
        self.session.commit(key, list(labels), user=user)
        return self.record(key, self.run(key).round)

    def fork(self, key, at_round, strategy=None, **params) -> str:
        """Branch run ``key`` after ``at_round``; returns the new run's key."""
        return self.session.fork(key, at_round, strategy=strategy, **params).key

    def preview(self, key, strategy=None, **params):
        """``(selection, class_mix)`` of run ``key``'s next round with other settings; no change."""
        return self.run(key).preview(strategy, **params)


def _from_selection(key, rnd, labelled, sel, **fields) -> RoundRecord:
    """A :class:`RoundRecord` holding copies of a selection's arrays (the engine keeps its own)."""
    return RoundRecord(
        run=key, round=int(rnd), labelled=ids_of(labelled), anchors=ids_of(sel.anchors),
        subpool=ids_of(sel.subpool), queried=ids_of(sel.ids),
        scores=np.asarray(sel.scores, np.float64).copy(),
        anchor_of=ids_of(sel.anchor_id),
        similarity=np.asarray(sel.similarity, np.float64).copy(),
        **fields)
