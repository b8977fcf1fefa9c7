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


def run_label(key: str) -> str:
    """A run's display name, e.g. ``"AnchorAL · entropy"``."""
    filt, _, strategy = key.partition("/")
    return f"{FILTERS.get(filt, (filt,))[0]} · {strategy}"


def run_color(key: str) -> str:
    """A run's colour, shared by the map and every comparison plot."""
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

    # --- what the map shows ------------------------------------------------------------------
    run = param.Selector(default=None, objects=[], allow_None=True, doc="Run shown on the map.")
    round = param.Integer(default=0, bounds=(0, None), doc="Round shown on the map (0 = none yet).")
    color_by = param.Selector(default="class", objects=list(COLOR_BY))
    layers = param.ListSelector(default=list(LAYERS[:4]), objects=list(LAYERS))

    # --- progress (set by the state itself) -----------------------------------------------------
    n_done = param.Integer(default=0, doc="Rounds recorded (per run).")
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
        self.param.watch(self._settings_changed, _SETTINGS)

    # ----------------------------------------------------------------------------- settings
    @property
    def settings(self) -> dict:
        """The experiment settings as a plain dict."""
        return {name: (list(v) if isinstance(v := getattr(self, name), list) else v)
                for name in _SETTINGS}

    def _settings_changed(self, *events):
        if self.experiment is not None:
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

    def build(self):
        """Validate the settings and build the experiment (raises :class:`ExplorerError`)."""
        self.validate()
        prepared = self._prepared_for_settings()
        self.experiment = self._factory(prepared, **self.settings)
        self.class_colors = class_colors(prepared.dataset.classes, prepared.dataset.minority)
        self.runs = [k for k in _run_keys(self.experiment)]
        self.history = {k: [] for k in self.runs}
        self.param.run.objects = list(self.runs)
        with param.parameterized.batch_call_watchers(self):
            self.run = self.runs[0] if self.runs else None
            self.stale = False
        return self.experiment

    # ---------------------------------------------------------------------------- the loop
    def reset(self) -> None:
        """Cancel any work, forget every round; the next Step builds from the current settings."""
        self._cancel.set()
        self._generation += 1
        self.experiment = None
        self.history = {}
        self.runs = []
        self._proba_cache = {}
        self.param.run.objects = []
        with param.parameterized.batch_call_watchers(self):
            self.run = None
            self.round = 0
            self.n_done = 0
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

    def start(self, n_rounds: int, schedule) -> bool:
        """Run ``n_rounds`` rounds in a worker thread; results reach the state via ``schedule``.

        ``schedule(callback)`` must run ``callback()`` where the views live (Panel: the event
        loop). Returns False (and sets :attr:`error`) when work is already running or the
        settings are invalid.
        """
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
        for rec in records:
            self.history.setdefault(rec.run, []).append(rec)
        self._proba_cache = {}
        follow = self.round in (0, self.n_done)  # the map follows the newest round
        with param.parameterized.batch_call_watchers(self):
            self.n_done = min(len(v) for v in self.history.values()) if self.history else 0
            if follow:
                self.round = self.n_done
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

    # ---------------------------------------------------------------------------- read side
    def record(self, run=None, round=None) -> RoundRecord | None:
        """The record of ``run`` (default: the selected run) at ``round`` (default: selected)."""
        run = self.run if run is None else run
        round = self.round if round is None else round
        recs = self.history.get(run) or []
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
        key = (self.run, self.n_done, kind)
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
             "init_size", "seed")


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
