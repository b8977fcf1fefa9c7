"""The labelling queue's state: the batch a person labels, the labels given so far, the position.

A sub-object of :class:`~explorer.ui.state.ExplorerState` (no Panel). Each label is a decision
the engine records with its author and time (a session's ``decisions.jsonl``) and keeps as
*pending* (``pending.json``), so a reload keeps it; an undo or a change is one more decision,
never an overwrite. The last label commits the batch in a background job (retrain, evaluate,
save) and the next batch is proposed.
"""

from __future__ import annotations

import time

import numpy as np
import param

from ..cost import format_seconds
from ..exceptions import ExplorerError
from .jobs import Job
from .records import RoundRecord, run_label


class LabelQueueState(param.Parameterized):
    """The batch being labelled by hand and the labels given to it.

    Parameters
    ----------
    dataset : Dataset
        The pool's dataset (class names; gold labels for the agreement).
    job : Job
        The state's job runner: labels wait while it is busy; the commit runs in it.
    engine : callable
        ``engine()`` → the state's :class:`~explorer.ui.driver.ExperimentDriver`.
    recorded : callable
        ``recorded(gen, records)`` adds committed rounds to the state's history (event loop).
    proposed : callable
        ``proposed(gen, record, pending, status)`` shows the next batch (event loop).
    """

    proposal = param.ClassSelector(class_=RoundRecord, default=None, allow_None=True,
                                   doc="The batch being labelled (a proposed round) or None.")
    given = param.Dict(default={}, doc="id -> class name (None: skipped) for the batch.")
    queue_pos = param.Integer(default=0, doc="Position in the batch being labelled.")
    user = param.String(default="annotator", doc="Annotator name stored with every label.")
    last_commit_s = param.Number(default=float("nan"), doc="Seconds the last commit took.")

    def __init__(self, dataset, job: Job, engine, recorded, proposed, **params):
        super().__init__(**params)
        self._dataset = dataset
        self._job = job
        self._engine = engine
        self._recorded = recorded
        self._proposed = proposed

    # ------------------------------------------------------------------------ the batch
    def show(self, prop: RoundRecord, pending: dict) -> None:
        """Make ``prop`` the batch to label, with the labels already ``pending`` for it."""
        ids = [int(i) for i in prop.queried]
        with param.parameterized.batch_call_watchers(self):
            self.proposal = prop
            self.given = {i: pending[i] for i in ids if i in pending}
            self.queue_pos = self._next_open(0)

    def clear(self) -> None:
        """No batch to label."""
        with param.parameterized.batch_call_watchers(self):
            self.proposal = None
            self.given = {}
            self.queue_pos = 0

    def queue_ids(self) -> np.ndarray:
        """The ids of the batch being labelled (empty when none)."""
        return self.proposal.queried if self.proposal is not None else np.empty(0, np.int64)

    def _next_open(self, start) -> int:
        ids = self.queue_ids()
        for k in list(range(start, len(ids))) + list(range(0, start)):
            if int(ids[k]) not in self.given:
                return k
        return len(ids)

    # ------------------------------------------------------------------------- labelling
    def label(self, value, schedule=None) -> bool:
        """Label the current text of the queue (a class name; None = skip); saved at once as
        pending. The batch commits (retrain, next round proposed) once every text has one."""
        job = self._job
        if self.proposal is None or job.busy:
            return False
        ids = self.queue_ids()
        if not 0 <= self.queue_pos < len(ids):
            return False
        classes = self._dataset.classes
        if value is not None and value not in classes:
            job.error = f"label {value!r} is not a class; use one of {', '.join(classes)}"
            return False
        row = int(ids[self.queue_pos])
        given = {**self.given, row: value}
        try:
            self._engine().decide(self.proposal.run, row, value, self.author())
        except ExplorerError as err:
            job.error = str(err)
            return False
        self.given = given
        nxt = self._next_open(self.queue_pos + 1)
        if nxt < len(ids):
            self.queue_pos = nxt
            return True
        self.queue_pos = len(ids)
        return self.commit_batch(schedule or job.schedule or (lambda cb: cb()))

    def author(self) -> str:
        """Who labels: the annotator name (``"unknown"`` when empty)."""
        return (self.user or "").strip() or "unknown"

    def undo_target(self) -> int | None:
        """The position :meth:`undo` would withdraw: the text shown when it has a decision,
        else the one before it when that has one; None when neither."""
        ids = self.queue_ids()
        if self.proposal is None:
            return None
        for pos in (self.queue_pos, self.queue_pos - 1):
            if 0 <= pos < len(ids) and int(ids[pos]) in self.given:
                return pos
        return None

    def undo(self) -> bool:
        """Withdraw a decision of the open batch (:meth:`undo_target`) and show that text again.

        The engine records the undo as a decision of its own (author, time): the history keeps
        the withdrawn label. Returns False when there is nothing to undo or the job is busy.
        """
        pos = self.undo_target()
        if pos is None or self._job.busy:
            return False
        row = int(self.queue_ids()[pos])
        try:
            self._engine().undo(self.proposal.run, row, self.author())
        except ExplorerError as err:
            self._job.error = str(err)
            return False
        with param.parameterized.batch_call_watchers(self):
            self.given = {k: v for k, v in self.given.items() if k != row}
            self.queue_pos = pos
        return True

    def history(self):
        """The decisions on the text shown (a frame of
        :data:`explorer.decisions.DECISION_COLUMNS`, oldest first), or None without one."""
        ids = self.queue_ids()
        if self.proposal is None or not len(ids):
            return None
        row = int(ids[min(self.queue_pos, len(ids) - 1)])
        return self._engine().decisions(row)

    def back(self) -> None:
        """Go back one text in the batch (its label can be changed until the batch commits)."""
        if self.proposal is not None and self.queue_pos > 0 and not self._job.busy:
            self.queue_pos -= 1

    def commit_batch(self, schedule) -> bool:
        """Commit the labelled batch (retrain, evaluate, save) and propose the next one."""
        prop = self.proposal
        labels = [self.given.get(int(i)) for i in prop.queried]
        user = self.author()
        engine = self._engine()

        def work(gen):
            t0 = time.perf_counter()
            rec = engine.commit(prop.run, labels, user)
            try:
                nxt, err = engine.propose(prop.run), None
            except ExplorerError as e:
                nxt, err = None, e
            elapsed = time.perf_counter() - t0

            def done():
                if not self._job.current(gen):
                    return
                self.clear()
                self.last_commit_s = elapsed
                self._recorded(gen, [rec])
                msg = (f"Round {rec.round} saved ({len(labels)} labels); next batch selected "
                       f"in {format_seconds(elapsed)}.")
                if nxt is not None:
                    self._proposed(gen, nxt, {}, msg)
                elif err is not None:
                    self._job.fail(gen, err)
                else:
                    self._job.finish(gen, msg)
            return done

        return self._job.run(f"Committing round {prop.round}: retraining…", work, schedule)

    def agreement(self, history: dict, run=None) -> tuple[int, int]:
        """(agreeing, compared) between hand labels and gold labels, over the hand-labelled
        rounds in ``history`` ({run: [RoundRecord]}) and the batch being labelled, of ``run``
        (default: every run)."""
        y = self._dataset.y
        agree = compared = 0
        for key, recs in history.items():
            if run is not None and key != run:
                continue
            for rec in recs:
                if rec.label_source != "human" or rec.labels is None:
                    continue
                gold = y[rec.queried]
                ok = (rec.labels >= 0) & (gold >= 0)
                compared += int(ok.sum())
                agree += int((rec.labels[ok] == gold[ok]).sum())
        if self.proposal is not None and (run is None or self.proposal.run == run):
            names = self._dataset.classes
            for i, lab in self.given.items():
                if lab is not None and y[i] >= 0:
                    compared += 1
                    agree += int(names.index(lab) == y[i])
        return agree, compared

    def status_line(self) -> str:
        """What to do with the batch: ``"Round 3 of AnchorAL · entropy: label the 25 …"``."""
        prop = self.proposal
        return (f"Round {prop.round} of {run_label(prop.run)}: label the {len(prop.queried)} "
                "queried texts below.")
