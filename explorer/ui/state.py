"""The explorer's session state: one ``param.Parameterized`` object, no Panel.

Everything a browser session (or a notebook) can see and change lives here: the settings of the
experiment, which run and round the map shows, the history of recorded rounds, and whether work is
running. Views (:mod:`explorer.ui.views`) read it and change it only through its methods; the
shared, read-only :class:`~explorer.prepare.Prepared` pool is passed in and never mutated.

Work runs off the caller's thread: :meth:`ExplorerState.start` runs rounds in a worker thread and
hands every result to ``schedule`` (Panel passes ``pn.state.execute``, which applies it on the
event loop; tests pass a direct call), so parameters only ever change where the views live.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import param

from ..exceptions import ExplorerError, ParameterError

#: filters the app can compare, in display order, with their labels and (shared) colours
FILTERS = {
    "anchoral": ("AnchorAL", "#d62728"),
    "full": ("Full pool", "#1f77b4"),
    "randsub": ("RandSub", "#2ca02c"),
    "seals": ("SEALS", "#9467bd"),
}
STRATEGIES = ("entropy", "margin", "leastconf", "badge", "kmeans", "random")
MODELS = {"lr": "LR head", "mlp": "MLP head", "finetune": "Fine-tuned encoder"}
ANCHOR_STRATEGIES = ("kmeans++", "kmeans", "random", "entropy")
SAMPLING = ("topk", "softmax")
LAYERS = ("labelled", "subpool", "anchors", "queried", "links")
COLOR_BY = ("class", "probability", "uncertainty")

#: colours of the classes on the map: minority classes strong, majority classes muted
MINORITY_COLORS = ("#ff7f0e", "#e377c2", "#17becf", "#bcbd22", "#8c564b", "#7f7f7f")
MAJORITY_COLORS = ("#6baed6", "#9ecae1", "#74c476", "#a1d99b", "#9e9ac8", "#bcbddc", "#fdae6b",
                   "#c6dbef", "#c7e9c0", "#dadaeb", "#fdd0a2", "#d9d9d9", "#bdbdbd", "#969696")


def run_key(filter_name: str, strategy: str) -> str:
    """The key of one compared run, e.g. ``"anchoral/entropy"``."""
    return f"{filter_name}/{strategy}"


#: colours of forked runs (a fork keeps its parent's filter, so it needs a colour of its own)
FORK_COLORS = ("#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79",
               "#637939")


def run_label(key: str) -> str:
    """A run's display name, e.g. ``"AnchorAL · entropy"``; a fork names its parent and round
    (``"AnchorAL · badge [n_anchors=5] ⑂ AnchorAL · entropy @2"``)."""
    own, _, parent = key.partition("@")
    filt, _, strategy = own.partition("/")
    strategy, _, params = strategy.partition("[")
    label = f"{FILTERS.get(filt, (filt,))[0]} · {strategy}"
    if params:
        label += f" [{params.rstrip(']')}]"
    if parent:
        base, _, rnd = parent.rpartition(":")
        label += f" ⑂ {run_label(base)} @{rnd}"
    return label


def run_color(key: str) -> str:
    """A run's colour, shared by the map and every comparison plot."""
    if "@" in key:
        import zlib

        return FORK_COLORS[zlib.crc32(key.encode()) % len(FORK_COLORS)]
    return FILTERS.get(key.partition("/")[0], ("", "#444444"))[1]


def class_colors(classes, minority) -> dict:
    """Class name → colour; minority classes get the strong colours."""
    out, i_min, i_maj = {}, 0, 0
    for c, name in enumerate(classes):
        if c in minority:
            out[name] = MINORITY_COLORS[i_min % len(MINORITY_COLORS)]
            i_min += 1
        else:
            out[name] = MAJORITY_COLORS[i_maj % len(MAJORITY_COLORS)]
            i_maj += 1
    return out


@dataclass(frozen=True, eq=False)
class RoundRecord:
    """What one run did in one round, copied out of the engine so views never touch it.

    Attributes
    ----------
    run : str
        The run key (``"anchoral/entropy"``).
    round : int
        1-based round number.
    labelled : int64 ndarray
        Global ids labelled when the round selected (its training set, before the queries).
    anchors, subpool, queried : int64 ndarray
        Global ids. ``subpool`` is empty for the full pool (the whole unlabelled pool).
    scores, anchor_of, similarity : ndarray aligned with ``queried``
        Base-strategy score, the anchor that retrieved each query (-1: none), its similarity (nan).
    metrics : dict
        The engine's row of ``rounds_frame()`` for this run and round (n_labelled, minority_share,
        subpool_minority_share, t_retrieval, t_scoring, t_selection, t_train, minority_f1, ...).
    labels : int64 ndarray or None
        The committed class of each queried id (-1: skipped); None when unknown.
    source : str
        ``"oracle"`` (gold labels revealed) or ``"human"`` (labelled by a person).
    proposed : bool
        True for a batch selected but not labelled yet (the labelling queue's round).
    """

    run: str
    round: int
    labelled: np.ndarray
    anchors: np.ndarray
    subpool: np.ndarray
    queried: np.ndarray
    scores: np.ndarray
    anchor_of: np.ndarray
    similarity: np.ndarray
    metrics: dict = field(default_factory=dict)
    labels: np.ndarray | None = None
    source: str = "oracle"
    proposed: bool = False


def _ids(x) -> np.ndarray:
    if x is None:
        return np.empty(0, np.int64)
    return np.asarray(x, dtype=np.int64).ravel().copy()


class ExplorerState(param.Parameterized):
    """The state of one explorer session over one prepared pool.

    Parameters
    ----------
    prepared : Prepared
        The pool (shared, read-only): dataset, embeddings, coords, index.
    experiment_factory : callable, optional
        ``factory(prepared, **settings) -> driver``: an object with ``runs`` (run keys),
        ``initial_ids``, ``step_run(key) -> RoundRecord`` and ``model(key)``. Defaults to
        :class:`explorer.ui.engine.EngineDriver` over :class:`explorer.session.Experiment`;
        tests inject stubs here.
    """

    # --- experiment settings (applied by Reset; the first Step builds the experiment) -------
    minority = param.ListSelector(default=[], objects=[], doc="Minority class name(s).")
    model = param.Selector(default="lr", objects=list(MODELS), doc="Classifier.")
    strategy = param.Selector(default="entropy", objects=list(STRATEGIES), doc="Base strategy.")
    filters = param.ListSelector(default=["anchoral", "full"], objects=list(FILTERS),
                                 doc="Pool filters to compare, one run each.")
    n_anchors = param.Integer(default=10, doc="AnchorAL anchors per class.")
    anchor_strategy = param.Selector(default="kmeans++", objects=list(ANCHOR_STRATEGIES))
    n_neighbors = param.Integer(default=50, doc="k: neighbours retrieved per anchor (AnchorAL, SEALS).")
    subpool_size = param.Integer(default=None, allow_None=True,
                                 doc="M: subpool size (AnchorAL, RandSub); empty = the engine's default.")
    sampling = param.Selector(default="topk", objects=list(SAMPLING),
                              doc="Keep the top-M retrieved instances or sample M by softmax.")
    minority_anchors = param.Boolean(default=False, doc="Take anchors from minority classes only.")
    query_size = param.Integer(default=25, doc="Instances queried per round and run.")
    init_size = param.Integer(default=100, doc="Initial labelled set size.")
    n_rounds = param.Integer(default=10, doc="Rounds run by 'Run N rounds'.")
    seed = param.Integer(default=0, doc="Seed of every random step.")
    label_by_hand = param.Boolean(default=False, doc="Label the queried points yourself even "
                                  "though the data has gold labels (agreement is shown).")

    # --- labelling (hand mode) -------------------------------------------------------------
    user = param.String(default="annotator", doc="Annotator name stored with every label.")
    queue_pos = param.Integer(default=0, doc="Position in the batch being labelled.")
    session_dir = param.String(default="", doc="Session directory every round is saved to.")
    preview = param.Parameter(default=None, doc="The last preview: dict(run, round, subpool, "
                              "anchors, queried, mix, by) or None.")

    # --- what the map shows ------------------------------------------------------------------
    run = param.Selector(default=None, objects=[], allow_None=True, doc="Run shown on the map.")
    round = param.Integer(default=0, bounds=(0, None), doc="Round shown on the map (0 = none yet).")
    color_by = param.Selector(default="class", objects=list(COLOR_BY))
    layers = param.ListSelector(default=list(LAYERS[:4]), objects=list(LAYERS))

    # --- progress (set by the state itself) -----------------------------------------------------
    n_done = param.Integer(default=0, doc="Rounds recorded (the longest run).")
    version = param.Integer(default=0, doc="Bumped whenever the recorded rounds or the batch "
                            "to label change (views redraw on it).")
    busy = param.Boolean(default=False)
    progress = param.Number(default=0.0, bounds=(0, 1))
    status = param.String(default="Ready: press Step to run one round.")
    error = param.String(default="", doc="The last error, shown in the page.")
    stale = param.Boolean(default=False, doc="Settings changed since the experiment was built.")

    def __init__(self, prepared, experiment_factory=None, **params):
        ds = prepared.dataset
        names = list(ds.classes)
        self.param.minority.objects = names
        params.setdefault("minority", [ds.classes[c] for c in ds.minority])
        super().__init__(**params)
        self.prepared = prepared
        self._factory = experiment_factory or _engine_experiment
        self.experiment = None
        self.history: dict[str, list[RoundRecord]] = {}
        self.runs: list[str] = []
        self.class_colors = class_colors(ds.classes, ds.minority)
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._generation = 0
        self._thread = None
        self._proba_cache = {}
        self.proposal: RoundRecord | None = None
        self.given: dict = {}  # id -> class name (None: skipped) for the batch being labelled
        self.last_commit_s = float("nan")
        self._schedule = None
        self._quiet = False
        self.lock_wait = 12.0  # seconds open_session waits for a held writer lock
        import os

        if "user" not in params:
            self.user = os.environ.get("USER") or "annotator"
        self.source = getattr(ds, "source", "") or ds.name
        self.load_options: dict = {}
        self.param.watch(self._settings_changed, _SETTINGS)
        self.param.watch(self._run_changed, "run")

    # ----------------------------------------------------------------------------- settings
    @property
    def settings(self) -> dict:
        """The experiment settings as a plain dict."""
        return {name: (list(v) if isinstance(v := getattr(self, name), list) else v)
                for name in _SETTINGS}

    def _settings_changed(self, *events):
        if self.experiment is not None and not self._quiet:
            self.stale = True
            self.status = "Settings changed: press Reset to start over with them."

    def validate(self) -> None:
        """Check the settings against the pool; raise :class:`ParameterError` with the fix."""
        n = self.prepared.dataset.n
        for name in ("n_anchors", "n_neighbors", "subpool_size", "query_size", "init_size",
                     "n_rounds"):
            value = getattr(self, name)
            if value is None and name == "subpool_size":
                continue
            if value is None or value < 1:
                raise ParameterError(f"{name}={value} must be >= 1; enter a positive number")
        if not self.filters:
            raise ParameterError("filters=[] must name at least one filter to compare; "
                                 f"tick one of {', '.join(FILTERS)}")
        if not self.minority:
            raise ParameterError("minority=[] must name at least one minority class; "
                                 f"choose from {', '.join(self.prepared.dataset.classes)}")
        if len(self.minority) >= self.prepared.dataset.n_classes:
            raise ParameterError(f"minority={self.minority} names every class; leave at least "
                                 "one majority class")
        if self.n_neighbors >= n:
            raise ParameterError(f"n_neighbors={self.n_neighbors} must be smaller than the pool "
                                 f"({n:,} rows); choose k < {n}")
        if self.init_size + self.query_size >= n:
            raise ParameterError(f"init_size={self.init_size} + query_size={self.query_size} "
                                 f"must be smaller than the pool ({n:,} rows)")

    def _prepared_for_settings(self):
        """The shared pool, with the chosen minority classes when they differ (a shallow copy)."""
        ds = self.prepared.dataset
        wanted = tuple(sorted(ds.classes.index(m) for m in self.minority))
        if wanted == tuple(sorted(ds.minority)):
            return self.prepared
        dataset = dataclasses.replace(ds, minority=wanted, minority_inferred=False)
        return dataclasses.replace(self.prepared, dataset=dataset)

    @property
    def annotate_data(self) -> bool:
        """True when the data lacks gold labels for some rows: every batch is labelled by hand."""
        return bool((np.asarray(self.prepared.dataset.y) < 0).any())

    @property
    def hand(self) -> bool:
        """True when a person labels each batch (annotate data, or 'label by hand' ticked)."""
        return self.annotate_data or self.label_by_hand

    def build(self):
        """Validate the settings and build the experiment (raises :class:`ExplorerError`)."""
        self.validate()
        prepared = self._prepared_for_settings()
        self.experiment = self._factory(prepared, **self.settings)
        self._adopt(self.experiment)
        with param.parameterized.batch_call_watchers(self):
            self.stale = False
        return self.experiment

    def _adopt(self, exp, history=None):
        """Make ``exp`` the session's experiment (runs, history, class colours)."""
        prepared = self._prepared_for_settings()
        self.class_colors = class_colors(prepared.dataset.classes, prepared.dataset.minority)
        self.runs = [k for k in _run_keys(exp)]
        self.history = history if history is not None else {k: [] for k in self.runs}
        self.param.run.objects = list(self.runs)
        self.run = self.runs[0] if self.runs else None

    def rounds_of(self, run=None) -> int:
        """Recorded rounds of ``run`` (default: the run on the map)."""
        return len(self.history.get(self.run if run is None else run) or [])

    def last_round(self, run=None) -> int:
        """The newest round the map can show for ``run``: its batch to label when there is one."""
        run = self.run if run is None else run
        n = self.rounds_of(run)
        if self.proposal is not None and self.proposal.run == run:
            return n + 1
        return n

    def _run_changed(self, event):
        self.preview = None
        if self.round > self.last_round():
            self.round = self.last_round()
        if (self.hand and self.experiment is not None and not self.busy
                and self._schedule is not None and event.new is not None
                and (self.proposal is None or self.proposal.run != event.new)):
            self.propose_next(self._schedule)

    # ---------------------------------------------------------------------------- the loop
    def reset(self) -> None:
        """Cancel any work, forget every round; the next Step builds from the current settings.

        A session directory is closed (its labels stay saved there) and the app stops saving.
        """
        self._cancel.set()
        self._generation += 1
        self.close()
        self.experiment = None
        self.history = {}
        self.runs = []
        self._proba_cache = {}
        self.proposal = None
        self.given = {}
        self.param.run.objects = []
        with param.parameterized.batch_call_watchers(self):
            self.run = None
            self.round = 0
            self.n_done = 0
            self.version += 1
            self.queue_pos = 0
            self.session_dir = ""
            self.preview = None
            self.busy = False
            self.progress = 0.0
            self.error = ""
            self.stale = False
            self.status = "Reset: press Step to run one round."

    def step(self) -> list[RoundRecord]:
        """Run one round of every compared run here, synchronously, and record it."""
        self._begin(1)
        try:
            records = self._compute_round(self._generation, None)
        except ExplorerError as err:
            self._fail(self._generation, err)
            return []
        self._apply(self._generation, records, 1, 1)
        self._finish(self._generation, "")
        return records

    def close(self) -> None:
        """Release the session directory (its writer lock), if any."""
        close = getattr(self.experiment, "close", None)
        if close is not None:
            close()

    def start(self, n_rounds: int, schedule) -> bool:
        """Run ``n_rounds`` rounds in a worker thread; results reach the state via ``schedule``.

        ``schedule(callback)`` must run ``callback()`` where the views live (Panel: the event
        loop). Returns False (and sets :attr:`error`) when work is already running or the
        settings are invalid. In hand mode this proposes the next batch to label instead.
        """
        self._schedule = schedule
        if self.hand and not self.busy:
            return self.propose_next(schedule)
        if self.busy:
            self.error = "A run is already in progress: wait for it or press Pause/Cancel."
            return False
        if n_rounds is None or n_rounds < 1:
            self._fail(self._generation, ParameterError(
                f"n_rounds={n_rounds} must be >= 1; enter a positive number of rounds"))
            return False
        try:
            if self.experiment is None:
                self.build()
        except ExplorerError as err:
            self._fail(self._generation, err)
            return False
        self._begin(n_rounds)
        gen = self._generation
        self._thread = threading.Thread(target=self._work, args=(gen, n_rounds, schedule),
                                        name="anchoral-rounds", daemon=True)
        self._thread.start()
        return True

    def cancel(self) -> None:
        """Ask the worker to stop; it stops before the next run's round (within one round)."""
        if self.busy:
            self._cancel.set()
            self.status = "Cancelling after the current run's round…"

    def wait(self, timeout=None) -> None:
        """Block until the worker thread ends (tests, notebooks)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _begin(self, n_rounds):
        self._cancel.clear()
        with param.parameterized.batch_call_watchers(self):
            self.error = ""
            self.busy = True
            self.progress = 0.0
            self.status = f"Running {n_rounds} round{'s' * (n_rounds > 1)}…"

    def _work(self, gen, n_rounds, schedule):
        t0 = time.perf_counter()
        done = 0
        try:
            for i in range(n_rounds):
                if self._cancel.is_set():
                    break
                records = self._compute_round(gen, schedule, i, n_rounds)
                if records is None:  # cancelled between runs
                    break
                done += 1
                schedule(_bind(self._apply, gen, records, i + 1, n_rounds))
        except ExplorerError as err:
            schedule(_bind(self._fail, gen, err))
            return
        except Exception as err:  # an engine bug must not leave the page busy forever
            schedule(_bind(self._fail, gen, err))
            raise
        why = "cancelled" if self._cancel.is_set() else "done"
        schedule(_bind(self._finish, gen, f"{why}: {done} round{'s' * (done != 1)} in "
                                           f"{time.perf_counter() - t0:.1f} s"))

    def _compute_round(self, gen, schedule, i=0, n=1):
        """One round of every run (worker thread). Touches only the experiment; returns records."""
        with self._lock:
            if self.experiment is None:
                self.build()
            exp = self.experiment
            runs = list(_engine_runs(exp))
            records = []
            for j, run in enumerate(runs):
                if j and self._cancel.is_set():
                    return None
                records.append(_advance(exp, run))
                if schedule is not None:
                    frac = (i + (j + 1) / len(runs)) / n
                    schedule(_bind(self._set_progress, gen, frac,
                                   f"Round {self.n_done + 1}: {run_label(records[-1].run)} done"))
            return records

    # ------------------------------------------------------------------ applied on the UI side
    def _set_progress(self, gen, frac, status):
        if gen == self._generation:
            self.progress = min(max(frac, 0.0), 1.0)
            self.status = status

    def _apply(self, gen, records, i, n):
        if gen != self._generation:
            return
        follow = self.round >= self.rounds_of()  # the map follows the newest round
        for rec in records:
            self.history.setdefault(rec.run, []).append(rec)
        self._proba_cache = {}
        self.preview = None
        with param.parameterized.batch_call_watchers(self):
            self.n_done = max(len(v) for v in self.history.values()) if self.history else 0
            if follow:
                self.round = self.rounds_of()
            self.version += 1
            self.progress = i / n
            self.status = f"Round {self.n_done} recorded ({i}/{n})."

    def _finish(self, gen, status):
        if gen != self._generation:
            return
        with param.parameterized.batch_call_watchers(self):
            self.busy = False
            if status:
                self.status = status[0].upper() + status[1:]

    def _fail(self, gen, err):
        if gen != self._generation:
            return
        msg = str(err) if isinstance(err, ExplorerError) else f"{type(err).__name__}: {err}"
        with param.parameterized.batch_call_watchers(self):
            self.busy = False
            self.error = msg
            self.status = "Stopped on an error (see above); fix the setting and try again."

    # ------------------------------------------------------------------ background work
    def _background(self, what, work, schedule) -> bool:
        """Run ``work(gen)`` (worker thread, holding the engine lock); it returns a callback
        applied through ``schedule``. Errors land in :attr:`error`, never as a traceback."""
        if self.busy:
            self.error = "Work is in progress: wait for it or press Pause/Cancel."
            return False
        self._schedule = schedule
        self._begin(1)
        self.status = what
        gen = self._generation

        def run():
            try:
                with self._lock:
                    done = work(gen)
            except ExplorerError as err:
                schedule(_bind(self._fail, gen, err))
                return
            except Exception as err:  # an engine bug must not leave the page busy forever
                schedule(_bind(self._fail, gen, err))
                raise
            schedule(done)

        self._thread = threading.Thread(target=run, name="anchoral-work", daemon=True)
        self._thread.start()
        return True

    # --------------------------------------------------------------------- hand labelling
    def propose_next(self, schedule) -> bool:
        """Select the next batch of the run on the map for a person to label (worker thread)."""
        def work(gen):
            if self.experiment is None:
                self.build_quietly()
            runs = getattr(self, "_built_runs", None) or self.runs
            run = self.run if self.run in runs else runs[0]
            start = getattr(self.experiment, "start", None)
            if start is not None:
                start()
            prop = self.experiment.propose(run)
            return _bind(self._set_proposal, gen, prop, self.experiment.pending(run), "")

        return self._background("Selecting the batch to label…", work, schedule)

    def build_quietly(self):
        """:meth:`build` from a worker thread: the new runs reach the views via ``_set_proposal``."""
        self.validate()
        self.experiment = self._factory(self._prepared_for_settings(), **self.settings)
        self._built_runs = list(_run_keys(self.experiment))

    def _set_proposal(self, gen, prop, pending, status):
        if gen != self._generation:
            return
        if getattr(self, "_built_runs", None) is not None:
            runs, self._built_runs = self._built_runs, None
            self.runs = runs
            self.history = {k: [] for k in runs}
            self.param.run.objects = list(runs)
            prepared = self._prepared_for_settings()
            self.class_colors = class_colors(prepared.dataset.classes, prepared.dataset.minority)
        self.proposal = prop
        ids = [int(i) for i in prop.queried]
        self.given = {i: pending[i] for i in ids if i in pending}
        with param.parameterized.batch_call_watchers(self):
            if self.run != prop.run:
                self.run = prop.run
            self.stale = False
            self.round = prop.round
            self.queue_pos = self._next_open(0)
            self.version += 1
            self.busy = False
            self.progress = 0.0
            self.status = status or (f"Round {prop.round} of {run_label(prop.run)}: label the "
                                     f"{len(ids)} queried texts below.")

    def queue_ids(self) -> np.ndarray:
        return self.proposal.queried if self.proposal is not None else np.empty(0, np.int64)

    def _next_open(self, start):
        ids = self.queue_ids()
        for k in list(range(start, len(ids))) + list(range(0, start)):
            if int(ids[k]) not in self.given:
                return k
        return len(ids)

    def label(self, value, schedule=None) -> bool:
        """Label the current text of the queue (a class name; None = skip); saved at once as
        pending. The batch commits (retrain, next round proposed) once every text has one."""
        if self.proposal is None or self.busy:
            return False
        ids = self.queue_ids()
        if not 0 <= self.queue_pos < len(ids):
            return False
        if value is not None and value not in self.prepared.dataset.classes:
            self.error = (f"label {value!r} is not a class; use one of "
                          f"{', '.join(self.prepared.dataset.classes)}")
            return False
        self.given[int(ids[self.queue_pos])] = value
        try:
            self.experiment.save_pending(self.proposal.run, self.given)
        except ExplorerError as err:
            self.error = str(err)
            return False
        nxt = self._next_open(self.queue_pos + 1)
        if nxt < len(ids):
            self.queue_pos = nxt
            self.version += 1
            return True
        self.queue_pos = len(ids)
        return self.commit_batch(schedule or self._schedule or (lambda cb: cb()))

    def back(self) -> None:
        """Go back one text in the batch (its label can be changed until the batch commits)."""
        if self.proposal is not None and self.queue_pos > 0 and not self.busy:
            self.queue_pos -= 1

    def commit_batch(self, schedule) -> bool:
        """Commit the labelled batch (retrain, evaluate, save) and propose the next one."""
        prop = self.proposal
        labels = [self.given.get(int(i)) for i in prop.queried]
        user = self.user or "annotator"

        def work(gen):
            t0 = time.perf_counter()
            rec = self.experiment.commit(prop.run, labels, user)
            try:
                nxt, err = self.experiment.propose(prop.run), None
            except ExplorerError as e:
                nxt, err = None, e
            elapsed = time.perf_counter() - t0

            def done():
                if gen != self._generation:
                    return
                self.proposal = None
                self.last_commit_s = elapsed
                self._apply(gen, [rec], 1, 1)
                msg = (f"Round {rec.round} saved ({len(labels)} labels); next batch selected "
                       f"in {elapsed:.1f} s.")
                if nxt is not None:
                    self._set_proposal(gen, nxt, {}, msg)
                elif err is not None:
                    self._fail(gen, err)
                else:
                    self._finish(gen, msg)
            return done

        return self._background(f"Committing round {prop.round}: retraining…", work, schedule)

    def agreement(self, run=None):
        """(agreeing, compared) between hand labels and gold labels, over hand-labelled rounds
        of ``run`` (default: every run)."""
        y = self.prepared.dataset.y
        agree = compared = 0
        for key, recs in self.history.items():
            if run is not None and key != run:
                continue
            for rec in recs:
                if rec.source != "human" or rec.labels is None:
                    continue
                gold = y[rec.queried]
                ok = (rec.labels >= 0) & (gold >= 0)
                compared += int(ok.sum())
                agree += int((rec.labels[ok] == gold[ok]).sum())
        if self.proposal is not None and (run is None or self.proposal.run == run):
            names = self.prepared.dataset.classes
            for i, lab in self.given.items():
                if lab is not None and y[i] >= 0:
                    compared += 1
                    agree += int(names.index(lab) == y[i])
        return agree, compared

    # --------------------------------------------------------------------- fork, preview
    def fork(self, schedule, strategy=None, **params) -> bool:
        """Branch the run on the map after the round on the map, with other settings."""
        run, at = self.run, min(self.round, self.rounds_of())
        if self.experiment is None or run is None:
            self.error = "Nothing to fork yet: run (or label) a round first."
            return False
        if not hasattr(self.experiment, "fork"):
            self.error = "This engine cannot fork runs."
            return False
        parent_strategy = run.split("@")[0].split("/")[1].split("[")[0]
        current = self.experiment.filter_params()
        changed = {k: v for k, v in params.items()
                   if v is not None and k in current and current[k] != v}
        strategy = strategy if strategy and strategy != parent_strategy else None

        def work(gen):
            key = self.experiment.fork(run, at, strategy=strategy, **changed)
            hist = self.experiment.history(key)
            return _bind(self._forked, gen, key, hist)

        return self._background(f"Forking {run_label(run)} after round {at}…", work, schedule)

    def _forked(self, gen, key, hist):
        if gen != self._generation:
            return
        self.runs = list(self.runs) + [key]
        self.history[key] = hist
        self.param.run.objects = list(self.runs)
        with param.parameterized.batch_call_watchers(self):
            self.busy = False
            self.n_done = max(len(v) for v in self.history.values())
            self.version += 1
            self.status = f"Forked: {run_label(key)} (round {len(hist)})."
            self.run = key
            self.round = len(hist)

    def preview_next(self, schedule, strategy=None, **params) -> bool:
        """What the next round of the run on the map would retrieve with ``params``; no change."""
        run = self.run
        if self.experiment is None or run is None:
            self.error = "Nothing to preview yet: press Step first."
            return False
        if not hasattr(self.experiment, "preview"):
            self.error = "This engine cannot preview."
            return False
        params = {k: v for k, v in params.items() if v is not None}

        def work(gen):
            t0 = time.perf_counter()
            sel, mix = self.experiment.preview(run, strategy, **params)
            info = {"run": run, "round": self.rounds_of(run) + 1,
                    "subpool": np.asarray(sel.subpool, np.int64).copy(),
                    "anchors": np.asarray(sel.anchors, np.int64).copy(),
                    "queried": np.asarray(sel.ids, np.int64).copy(), "mix": dict(mix),
                    "by": "predicted" if self.experiment.mode == "annotate" else "gold",
                    "seconds": time.perf_counter() - t0}

            def done():
                if gen != self._generation:
                    return
                with param.parameterized.batch_call_watchers(self):
                    self.busy = False
                    self.preview = info
                    self.status = (f"Preview of round {info['round']}: subpool "
                                   f"{len(info['subpool']):,} rows (nothing changed).")
            return done

        return self._background("Previewing the next round…", work, schedule)

    # ------------------------------------------------------------------------- sessions
    def data_spec(self) -> dict:
        from ..store import data_spec_of

        opts = self.load_options
        spec = data_spec_of(self._prepared_for_settings(), self.source,
                            opts.get("text_col", "text"), opts.get("label_col", "label"),
                            opts.get("embeddings"), opts.get("index", "auto"))
        if str(self.source).startswith("synthetic:"):
            spec["source"] = self.source
        return spec

    def save_session(self, path) -> bool:
        """Save the comparison so far as a new session directory; later rounds are saved too."""
        path = str(path or "").strip()
        if not path:
            self.error = "Give a directory to save the session to."
            return False
        if self.busy:
            self.error = "Work is in progress: wait for it, then save."
            return False
        try:
            with self._lock:
                if self.experiment is None:
                    self.build()
                if not hasattr(self.experiment, "save_as"):
                    raise ParameterError("this engine cannot save sessions")
                if getattr(self.experiment, "session", None) is not None:
                    raise ParameterError(f"this comparison is already saved to "
                                         f"{self.session_dir}; every round is saved there")
                self.experiment.save_as(path, self.data_spec())
        except (ExplorerError, OSError) as err:
            self.error = str(err)
            return False
        with param.parameterized.batch_call_watchers(self):
            self.error = ""
            self.session_dir = str(path)
            self.status = f"Saved as session {path}: every round is saved there from now on."
        return True

    def open_session(self, path, schedule) -> bool:
        """Open (resume) the session in directory ``path`` in a worker thread.

        The session's dataset must be this pool; its writer lock must be free (else the store's
        :class:`~explorer.exceptions.SessionError` is shown).
        """
        from ..store import read_manifest

        path = str(path or "").strip()
        try:
            if not path:
                raise ParameterError("Give the directory of a saved session to open.")
            doc = read_manifest(path)
            spec = doc["dataset"]
            if spec.get("content_hash") != self.prepared.dataset.content_hash:
                raise ParameterError(
                    f"session {path} was made on dataset {spec.get('source')!r} "
                    f"({spec.get('name')}), not on {self.source!r}; serve that dataset to open "
                    f"it (anchoral serve {spec.get('source')} --session {path})")
        except ExplorerError as err:
            self.error = str(err)
            return False
        if self.busy:
            self.error = "Work is in progress: wait for it, then open the session."
            return False
        self.reset()
        self._quiet = True
        try:
            minority = [m for m in spec.get("minority") or [] if m in self.param.minority.objects]
            if minority:
                self.minority = minority
        finally:
            self._quiet = False
        prepared = self._prepared_for_settings()

        def work(gen):
            from .engine import EngineDriver

            def progress(done, total):
                schedule(_bind(self._set_progress, gen, done / max(total, 1),
                               f"Replaying the session: {done} of {total} rounds"))

            from ..exceptions import SessionError

            t0 = time.perf_counter()
            while True:  # a reloaded tab's old page gives the lock back within seconds
                try:
                    driver = EngineDriver.open(path, prepared, progress=progress)
                    break
                except SessionError as err:
                    if ("open for writing" not in str(err)
                            or time.perf_counter() - t0 > self.lock_wait):
                        raise
                    schedule(_bind(self._set_progress, gen, 0.0,
                                   "Waiting for the session's writer lock (open in another "
                                   "tab or process?)…"))
                    time.sleep(1.0)
            history = {k: driver.history(k) for k in driver.runs}
            hand = self.label_by_hand or driver.mode == "annotate" or any(
                r.source == "human" for recs in history.values() for r in recs)
            prop = pending = None
            if hand:
                waiting = [k for k in driver.runs if driver.pending(k)]
                run = (waiting or driver.runs)[0]
                try:
                    prop, pending = driver.propose(run), driver.pending(run)
                except ExplorerError:
                    prop = None
            return _bind(self._opened, gen, driver, history, doc, hand, prop, pending, path)

        return self._background(f"Opening session {path}…", work, schedule)

    def _opened(self, gen, driver, history, doc, hand, prop, pending, path):
        if gen != self._generation:
            driver.close()
            return
        st = doc["settings"]
        roots = [r for r in doc["runs"] if not r.get("parent")]
        self._quiet = True
        try:
            with param.parameterized.batch_call_watchers(self):
                for name, key in (("model", "model"), ("query_size", "query_size"),
                                  ("init_size", "init_size"), ("seed", "seed"),
                                  ("n_anchors", "n_anchors"), ("n_neighbors", "n_neighbors"),
                                  ("subpool_size", "subpool_size"),
                                  ("anchor_strategy", "anchor_strategy"),
                                  ("sampling", "sampling"), ("minority_anchors", "minority_only")):
                    if key in st and st[key] is not None or name == "subpool_size":
                        try:
                            setattr(self, name, st.get(key))
                        except ValueError:
                            pass
                filters = [r["filter"] for r in roots if r["filter"] in FILTERS]
                if filters:
                    self.filters = list(dict.fromkeys(filters))
                if roots and roots[0]["strategy"] in STRATEGIES:
                    self.strategy = roots[0]["strategy"]
                self.label_by_hand = hand and not self.annotate_data
        finally:
            self._quiet = False
        self.experiment = driver
        self._adopt(driver, history)
        n = sum(len(v) for v in history.values())
        with param.parameterized.batch_call_watchers(self):
            self.session_dir = str(path)
            self.n_done = max((len(v) for v in history.values()), default=0)
            self.round = self.rounds_of()
            self.version += 1
            self.stale = False
            self.busy = False
            self.progress = 0.0
            self.status = f"Opened session {path}: {n} recorded run-rounds."
        if prop is not None:
            self._set_proposal(gen, prop, pending or {},
                               f"Resumed session {path}: {len(pending or {})} of "
                               f"{len(prop.queried)} labels of round {prop.round} were kept.")

    # --------------------------------------------------------------------------- exports
    def export_bytes(self, what, fmt) -> bytes:
        """The labels / rounds table (csv, parquet, jsonl) or the plots (png, html), as bytes.

        Written by :func:`explorer.commands.export.export` from the session directory (a
        temporary snapshot when the comparison is not saved as a session).
        """
        import tempfile
        from pathlib import Path

        from ..commands.export import export

        with tempfile.TemporaryDirectory(prefix="anchoral-export-") as tmp:
            tmp = Path(tmp)
            sdir = self.session_dir
            with self._lock:
                if self.experiment is None or not hasattr(self.experiment, "snapshot"):
                    raise ParameterError("nothing to export yet: run (or label) a round first")
                if not sdir:
                    sdir = self.experiment.snapshot(tmp / "session", self.data_spec())
            out = tmp / f"export.{fmt}"
            if what == "plots":
                import pandas as pd

                from ..plots import comparison_figure

                rounds = pd.read_parquet(Path(sdir) / "rounds.parquet")
                if "run" in rounds.columns:  # one line per run, forks included
                    rounds = rounds.assign(branch=rounds["run"])
                comparison_figure(rounds, out, fmt, title=self.prepared.dataset.name)
            else:
                export(sdir, what, out, fmt)
            return out.read_bytes()

    # ---------------------------------------------------------------------------- read side
    def record(self, run=None, round=None) -> RoundRecord | None:
        """The record of ``run`` (default: the selected run) at ``round`` (default: selected).

        The round after the last recorded one is the batch to label, when there is one.
        """
        run = self.run if run is None else run
        round = self.round if round is None else round
        recs = self.history.get(run) or []
        prop = self.proposal
        if prop is not None and prop.run == run and round == len(recs) + 1:
            return prop
        if not 1 <= round <= len(recs):
            return None
        return recs[round - 1]

    def labelled_after(self, run=None, round=None) -> np.ndarray:
        """Ids labelled once ``round`` committed: its training set plus its queries."""
        rec = self.record(run, round)
        if rec is None:
            return self.initial_labelled()
        return np.union1d(rec.labelled, rec.queried)

    def initial_labelled(self) -> np.ndarray:
        exp = self.experiment
        if exp is None:
            return np.empty(0, np.int64)
        return _ids(exp.initial_ids)

    def rounds_frame(self):
        """One row per run and recorded round (the engine's metrics plus run/round)."""
        import pandas as pd

        rows = [dict(rec.metrics, run=rec.run, round=rec.round)
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
        prior = getattr(self.experiment, "pool_minority_share", None)
        if prior is not None:
            return float(prior)
        ds = self._prepared_for_settings().dataset if self.minority else self.prepared.dataset
        y = ds.y[ds.y >= 0]
        return float(np.isin(y, ds.minority).mean()) if len(y) else 0.0

    def pool_values(self, kind=None):
        """Per-row value of the selected run's current model: P(minority) or uncertainty.

        Returns None when there is no model yet or the worker is busy with it.
        """
        kind = kind or self.color_by
        if kind == "class" or self.experiment is None or self.run is None:
            return None
        key = (self.run, self.version, kind)
        if key in self._proba_cache:
            return self._proba_cache[key]
        if not self._lock.acquire(blocking=False):
            return None
        try:
            model = _run_model(self.experiment, self.run)
            if model is None:
                return None
            ids = np.arange(self.prepared.dataset.n, dtype=np.int64)
            proba = np.vstack([model.predict_proba(ids[s:s + 65536])
                               for s in range(0, len(ids), 65536)])
        finally:
            self._lock.release()
        minority = list(self._prepared_for_settings().dataset.minority)
        if kind == "probability":
            values = proba[:, minority].sum(axis=1)
        else:
            p = np.clip(proba, 1e-12, 1)
            values = -(p * np.log(p)).sum(axis=1) / np.log(p.shape[1])
        self._proba_cache = {key: values.astype(np.float32)}
        return self._proba_cache[key]


_SETTINGS = ("minority", "model", "strategy", "filters", "n_anchors", "anchor_strategy",
             "n_neighbors", "subpool_size", "sampling", "minority_anchors", "query_size",
             "init_size", "seed", "label_by_hand")


def snippet(text, n=200) -> str:
    """The first ``n`` characters of ``text`` on one line (not escaped: escape where shown)."""
    s = " ".join(str(text).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def _bind(fn, *args):
    def call():
        return fn(*args)
    return call


# ------------------------------------------------------------------ the engine, by contract
def _engine_experiment(prepared, **settings):
    from .engine import EngineDriver

    return EngineDriver(prepared, **settings)


def _engine_runs(exp):
    return list(exp.runs)


def _run_keys(exp):
    return list(exp.runs)


def _run_model(exp, key):
    return exp.model(key)


def _advance(exp, key) -> RoundRecord:
    return exp.step_run(key)
