"""The explorer's state for one browser session: settings, the map's run and round, the recorded rounds.

One ``param.Parameterized`` root, no Panel: the settings
(:class:`~explorer.ui.settings_state.SettingsState`, its base) and two sub-objects,
:class:`~explorer.ui.jobs.Job`
(the worker thread with its busy / progress / status / error) and
:class:`~explorer.ui.queue_state.LabelQueueState` (the batch a person labels). Views (``map.py``,
``curves.py``, ``controls.py``, ``labelling.py``, ``actions.py``, ``table.py``) read it and
change it only through its methods and those of :mod:`explorer.ui.sessions` and
:mod:`explorer.ui.branching`; the shared, read-only :class:`~explorer.prepare.Prepared` pool is
passed in and never mutated. The engine is any :class:`~explorer.ui.driver.ExperimentDriver`.
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np
import param

from ..cost import format_seconds
from ..exceptions import ExplorerError, ParameterError
from ..session_files import clear_running, note_running
from .driver import ExperimentDriver
from .engine import EngineDriver
from .jobs import Job, bind
from .queue_state import LabelQueueState
from .records import (MINORITY_VS_REST, Preview, RoundRecord, class_colors, default_color_by,
                      ids_of, minority_colors, run_key, run_label, snippet)
from .settings_state import SETTINGS, SettingsState

LAYERS = ("labelled", "subpool", "anchors", "queried", "links")
#: a run's progress within a round is sent to the page at most this often (seconds)
PROGRESS_EVERY_S = 0.5
COLOR_BY = ("class", MINORITY_VS_REST, "probability", "uncertainty")


class ExplorerState(SettingsState):
    """The state of one explorer session over one prepared pool.

    Parameters
    ----------
    prepared : Prepared
        The pool (shared, read-only): dataset, embeddings, coords, index.
    experiment_factory : callable, optional
        ``factory(prepared, **settings) -> ExperimentDriver``. Defaults to
        :class:`explorer.ui.engine.EngineDriver` over a library session; tests inject a
        stand-in here.
    """

    # --- the session directory, the preview -----------------------------------------------
    session_dir = param.String(default="", doc="Session directory every round is saved to.")
    preview = param.ClassSelector(class_=Preview, default=None, allow_None=True,
                                  doc="The last preview of a next round, or None.")

    # --- what the map shows ------------------------------------------------------------------
    run = param.Selector(default=None, objects=[], allow_None=True, doc="Run shown on the map.")
    round = param.Integer(default=0, bounds=(0, None), doc="Round shown on the map (0 = none yet).")
    color_by = param.Selector(default="class", objects=list(COLOR_BY), doc=(
        "How the pool is coloured: per class, minority vs rest (the default above "
        "records.MANY_CLASSES classes), or by the current model's P(minority) / uncertainty."))
    layers = param.ListSelector(default=list(LAYERS[:4]), objects=list(LAYERS))

    # --- progress (set by the state itself) -----------------------------------------------------
    n_done = param.Integer(default=0, doc="Rounds recorded (the longest run).")
    version = param.Integer(default=0, doc="Bumped whenever the recorded rounds or the batch "
                            "to label change (the map, curves and table redraw on it).")
    stale = param.Boolean(default=False, doc="Settings changed since the experiment was built.")

    # --- sub-objects ---------------------------------------------------------------------------
    job = param.ClassSelector(class_=Job, doc="The worker thread: busy, progress, status, error.")
    queue = param.ClassSelector(class_=LabelQueueState, doc="The batch a person labels.")

    def __init__(self, prepared, experiment_factory=None, **params):
        ds = prepared.dataset
        user = params.pop("user", None) or os.environ.get("USER") or "annotator"
        params.setdefault("color_by", default_color_by(len(ds.classes)))
        super().__init__(prepared, job=Job(), **params)
        if self.full_pool_note:
            self.job.status = f"Ready: press Step to run one round. {self.full_pool_note}"
        self.queue = LabelQueueState(ds, self.job, engine=lambda: self.experiment,
                                     recorded=self.record_rounds, proposed=self.show_proposal,
                                     user=user)
        self._factory = experiment_factory or EngineDriver
        self.experiment: ExperimentDriver | None = None
        self._reported = 0.0  # when a run's progress was last sent (worker thread)
        self.history: dict[str, list[RoundRecord]] = {}
        self.runs: list[str] = []
        self.class_colors = class_colors(ds.classes, ds.minority)
        self._proba_cache = {}
        self._quiet = False
        self.source = getattr(ds, "source", "") or ds.name
        self.param.watch(self._settings_changed, list(SETTINGS))
        self.param.watch(self._run_changed, "run")

    @contextlib.contextmanager
    def quietly(self):
        """Change settings without marking the state stale (restoring a session's settings)."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    # ------------------------------------------------------------------------- settings
    def _settings_changed(self, *events):
        if self.experiment is not None and not self._quiet:
            self.stale = True
            self.job.status = "Settings changed: press Reset to start over with them."

    # ------------------------------------------------------------------------ the experiment
    def _new_driver(self) -> ExperimentDriver:
        self.validate()
        return self._factory(self.prepared_for_settings, **self.settings)

    def build(self) -> ExperimentDriver:
        """Validate the settings and build the experiment (raises :class:`ExplorerError`)."""
        self.experiment = self._new_driver()
        self.adopt(self.experiment)
        self.stale = False
        return self.experiment

    def adopt(self, driver, history=None, runs=None) -> None:
        """Make ``driver`` the session's experiment (runs, history, class colours)."""
        prepared = self.prepared_for_settings
        self.class_colors = class_colors(prepared.dataset.classes, prepared.dataset.minority)
        self.runs = list(driver.runs if runs is None else runs)
        self.history = history if history is not None else {k: [] for k in self.runs}
        self.param.run.objects = list(self.runs)
        if self.run not in self.runs:
            self.run = self.runs[0] if self.runs else None

    def _adopt_built(self, gen, driver) -> None:
        """The worker built ``driver`` for this job (event loop): show its runs."""
        if self.job.current(gen) and self.experiment is driver:
            self.adopt(driver)
            self.stale = False

    def close(self) -> None:
        """Release the session directory (its writer lock), if any."""
        if self.experiment is not None:
            self.experiment.close()

    def rounds_of(self, run=None) -> int:
        """Recorded rounds of ``run`` (default: the run on the map)."""
        return len(self.history.get(self.run if run is None else run) or [])

    def last_round(self, run=None) -> int:
        """The newest round the map can show for ``run``: its batch to label when there is one."""
        run = self.run if run is None else run
        prop = self.queue.proposal
        return self.rounds_of(run) + (prop is not None and prop.run == run)

    def _run_changed(self, event):
        self.preview = None
        if self.round > self.last_round():
            self.round = self.last_round()
        prop = self.queue.proposal
        if (self.hand and self.experiment is not None and not self.job.busy
                and self.job.schedule is not None and event.new is not None
                and (prop is None or prop.run != event.new)):
            self.propose_next(self.job.schedule)

    # ---------------------------------------------------------------------------- the loop
    def reset(self) -> None:
        """Cancel any work, forget every round; the next Step builds from the current settings.

        A session directory is closed (its labels stay saved there) and the app stops saving.
        """
        self.job.invalidate()
        self.close()
        self.experiment = None
        self.history = {}
        self.runs = []
        self._proba_cache = {}
        self.queue.clear()
        self.param.run.objects = []
        with param.parameterized.batch_call_watchers(self):
            self.run = None
            self.round = 0
            self.n_done = 0
            self.version += 1
            self.session_dir = ""
            self.preview = None
            self.stale = False
        self.job.reset("Reset: press Step to run one round.")

    def step(self) -> list[RoundRecord]:
        """Run one round of every compared run here, synchronously, and record it.

        The code-driven Step (a notebook, a script): the views follow as they do for the
        button, and the status line says it is done.
        """
        t0 = time.perf_counter()
        gen = self.job.begin("Running 1 round…")
        try:
            records = self._compute_round(gen, None)
        except ExplorerError as err:
            self.job.fail(gen, err)
            return []
        self.record_rounds(gen, records, 1, 1, announce=False)
        self.job.finish(gen, f"done: 1 round in {format_seconds(time.perf_counter() - t0)}")
        return records

    def start(self, n_rounds: int, schedule) -> bool:
        """Run ``n_rounds`` rounds in a worker thread; results reach the state via ``schedule``.

        ``schedule(callback)`` must run ``callback()`` where the views live (Panel: the event
        loop). Returns False (and sets the job's error) when work is already running or the
        settings are invalid. In hand mode this proposes the next batch to label instead.
        """
        job = self.job
        job.schedule = schedule
        if self.hand and not job.busy:
            return self.propose_next(schedule)
        if job.busy:
            job.error = "A run is already in progress: wait for it or press Pause/Cancel."
            return False
        try:
            if n_rounds is None or n_rounds < 1:
                raise ParameterError(f"n_rounds={n_rounds} must be >= 1; enter a positive "
                                     "number of rounds")
            if self.experiment is None:
                self.validate()  # bad settings say so now; the build runs in the worker
        except ExplorerError as err:
            job.fail(job.generation, err)
            return False

        saved_in = self.experiment.session_path if self.experiment is not None else None
        first = self.n_done

        def work(gen):
            t0, done, last = time.perf_counter(), 0, None
            self._reported = t0
            if saved_in:  # a killed server leaves this note: the next one says what was lost
                note_running(saved_in, f"Run {n_rounds} rounds", first, first + n_rounds)
            try:
                for i in range(n_rounds):
                    if job.cancelled:
                        break
                    records = self._compute_round(gen, schedule, i, n_rounds)
                    if records is None:  # cancelled between runs
                        break
                    done += 1
                    if i + 1 < n_rounds:
                        schedule(bind(self.record_rounds, gen, records, i + 1, n_rounds))
                    else:  # the last round arrives with the end of the job: one message
                        last = (records, i + 1, n_rounds)
            finally:
                if saved_in:
                    clear_running(saved_in)
            why = "cancelled" if job.cancelled else "done"
            status = (f"{why}: {done} round{'s' * (done != 1)} in "
                      f"{format_seconds(time.perf_counter() - t0)}")

            def end():
                if last is not None:
                    self.record_rounds(gen, *last, announce=False)
                job.finish(gen, status)
            return end

        return job.run(f"Running {n_rounds} round{'s' * (n_rounds > 1)}…", work, schedule,
                       locked=False)

    def cancel(self) -> None:
        """Ask the worker to stop; it stops before the next run's round (within one round)."""
        self.job.cancel()

    def wait(self, timeout=None) -> None:
        """Block until the worker thread ends (tests, notebooks)."""
        self.job.wait(timeout)

    def _compute_round(self, gen, schedule, i=0, n=1):
        """One round of every run (worker thread). Touches only the experiment; returns records."""
        with self.job.slot(gen, schedule), self.job.lock:
            if self.experiment is None:
                if schedule is None:
                    self.build()
                else:  # built off the event loop; the views adopt it there, before its rounds
                    self.experiment = built = self._new_driver()
                    schedule(bind(self._adopt_built, gen, built))
            exp = self.experiment
            runs, records = list(exp.runs), []
            for j, run in enumerate(runs):
                if j and self.job.cancelled:
                    return None
                records.append(exp.step_run(run))
                now = time.perf_counter()
                # a run's progress shows when the round is slow enough to watch: a quick Step
                # sends the page its start and its end only (issue 20: each change costs the
                # browser a repaint of the status line and the bar)
                if schedule is not None and now - self._reported >= PROGRESS_EVERY_S:
                    self._reported = now
                    schedule(bind(self.job.set_progress, gen, (i + (j + 1) / len(runs)) / n,
                                  f"Round {self.n_done + 1}: {run_label(records[-1].run)} done"))
            return records

    def record_rounds(self, gen, records, i=1, n=1, announce=True) -> None:
        """Add committed rounds to the history (event loop); the map follows the newest round.

        ``announce=False``: the bar moves but the status line is left to the caller (the job's
        end, which follows at once)."""
        if not self.job.current(gen):
            return
        follow = self.round >= self.rounds_of()
        for rec in records:
            self.history.setdefault(rec.run, []).append(rec)
        self._proba_cache = {}
        with param.parameterized.batch_call_watchers(self):
            self.preview = None
            self.n_done = max(len(v) for v in self.history.values()) if self.history else 0
            if follow:
                self.round = self.rounds_of()
            self.version += 1
        if announce:
            self.job.set_progress(gen, i / n, f"Round {self.n_done} recorded ({i}/{n}).")
        else:
            self.job.progress = i / n

    def add_run(self, gen, key, history) -> None:
        """A forked run ``key`` with its inherited ``history`` joins the comparison (event loop)."""
        if not self.job.current(gen):
            return
        self.runs = list(self.runs) + [key]
        self.history[key] = history
        self.param.run.objects = list(self.runs)
        with param.parameterized.batch_call_watchers(self):
            self.n_done = max(len(v) for v in self.history.values())
            self.version += 1
            self.run = key
            self.round = len(history)
        self.job.finish(gen, f"Forked: {run_label(key)} (round {len(history)}).")

    # --------------------------------------------------------------------- hand labelling
    def propose_next(self, schedule) -> bool:
        """Select the next batch of the run on the map for a person to label (worker thread)."""
        def work(gen):
            built = None
            if self.experiment is None:
                self.experiment = built = self._new_driver()
            runs = list(self.experiment.runs) if built is not None else self.runs
            run = self.run if self.run in runs else runs[0]
            self.experiment.start()
            prop = self.experiment.propose(run)
            return bind(self.show_proposal, gen, prop, self.experiment.pending(run), "",
                        built is not None)

        return self.job.run("Selecting the batch to label…", work, schedule)

    def show_proposal(self, gen, prop, pending, status="", built=False) -> None:
        """Show the batch ``prop`` to label (event loop); ``built``: its experiment is new."""
        if not self.job.current(gen):
            return
        if built:
            self.adopt(self.experiment)
        self.queue.show(prop, pending)
        with param.parameterized.batch_call_watchers(self):
            if self.run != prop.run:
                self.run = prop.run
            self.stale = False
            self.round = prop.round
            self.version += 1
        self.job.finish(gen, status or self.queue.status_line(), progress=0.0)

    # ---------------------------------------------------------------------------- read side
    def record(self, run=None, round=None) -> RoundRecord | None:
        """The record of ``run`` (default: the selected run) at ``round`` (default: selected).

        The round after the last recorded one is the batch to label, when there is one.
        """
        run = self.run if run is None else run
        round = self.round if round is None else round
        recs = self.history.get(run) or []
        prop = self.queue.proposal
        if prop is not None and prop.run == run and round == len(recs) + 1:
            return prop
        if not 1 <= round <= len(recs):
            return None
        return recs[round - 1]

    def initial_labelled(self) -> np.ndarray:
        """The initial labelled set (empty before the experiment is built)."""
        if self.experiment is None:
            return np.empty(0, np.int64)
        return ids_of(self.experiment.initial_ids)

    def rounds_frame(self):
        """One row per run and recorded round (:meth:`RoundResult.metrics`, keyed by run)."""
        import pandas as pd

        rows = [dict(rec.result.metrics(), run=rec.run)
                for recs in self.history.values() for rec in recs]
        return pd.DataFrame(rows)

    def queries_frame(self, run=None, round=None):
        """The selected round's queries: id, text, label, score, anchor, similarity."""
        import pandas as pd

        rec = self.record(run, round)
        ds = self.prepared.dataset
        if rec is None:
            return pd.DataFrame({"id": np.empty(0, np.int64), "text": [], "label": [],
                                 "score": [], "anchor": [], "similarity": []})
        q = rec.queried
        return pd.DataFrame({
            "id": q,
            "text": [snippet(t, 300) for t in ds.texts[q]],
            "label": [ds.classes[c] if c >= 0 else "" for c in ds.y[q]],
            "score": rec.scores.astype(float),
            "anchor": rec.anchor_of,
            "similarity": rec.similarity.astype(float),
        })

    def expected_runs(self) -> list[str]:
        """The run keys the current settings give (before the experiment is built)."""
        return [run_key(f, self.strategy) for f in self.filters]

    @property
    def pool_prior(self) -> float:
        """Share of minority rows in the (training) pool: the engine's figure when it has one."""
        if self.experiment is not None:
            return float(self.experiment.pool_minority_share)
        ds = self.prepared_for_settings.dataset if self.minority else self.prepared.dataset
        y = ds.y[ds.y >= 0]
        return float(np.isin(y, ds.minority).mean()) if len(y) else 0.0

    def display_colors(self) -> dict:
        """Class name → the colour the map shows it in: :attr:`class_colors`, or under
        ``color_by="minority vs rest"`` the minority strong and every other class grey."""
        if self.color_by != MINORITY_VS_REST:
            return self.class_colors
        ds = self.prepared_for_settings.dataset
        return minority_colors(ds.classes, ds.minority)

    def pool_scoring_cost(self):
        """The projected cost of scoring every row once (an entropy pass over the pool)."""
        from ..cost import full_pool_round

        X, ds = self.prepared.embeddings, self.prepared.dataset
        return full_pool_round(ds.n, "entropy", dim=X.shape[1], itemsize=X.dtype.itemsize,
                               n_classes=ds.n_classes)

    def pool_values(self, kind=None):
        """Per-row value of the selected run's current model: P(minority) or uncertainty.

        Returns None when there is no model yet or the worker is busy with it.
        """
        kind = kind or self.color_by
        if kind in ("class", MINORITY_VS_REST) or self.experiment is None or self.run is None:
            return None
        key = (self.run, self.version, kind)
        if key in self._proba_cache:
            return self._proba_cache[key]
        scoring = self.pool_scoring_cost()
        if not scoring.live:  # scoring every row for the map costs what a full-pool round does
            self.job.status = (f"Colouring by {kind} needs every row scored, and {scoring.describe()}"
                               "; the map keeps its class colours.")
            return None
        if not self.job.lock.acquire(blocking=False):
            return None
        try:
            model = self.experiment.model(self.run)
            if model is None:
                return None
            ids = np.arange(self.prepared.dataset.n, dtype=np.int64)
            proba = np.vstack([model.predict_proba(ids[s:s + 65536])
                               for s in range(0, len(ids), 65536)])
        finally:
            self.job.lock.release()
        minority = list(self.prepared_for_settings.dataset.minority)
        if kind == "probability":
            values = proba[:, minority].sum(axis=1)
        else:
            p = np.clip(proba, 1e-12, 1)
            values = -(p * np.log(p)).sum(axis=1) / np.log(p.shape[1])
        self._proba_cache = {key: values.astype(np.float32)}
        return self._proba_cache[key]

