"""Saved, resumable labelling sessions, in open formats (JSON + Parquet, never pickle).

A session directory holds:

``session.json``
    Format tag and version, the dataset reference (source, columns, minority, content hash),
    every setting of the :class:`~explorer.experiment.Experiment`, and the runs (forks included).
``labels.parquet``
    Every committed label: run, round, position in the batch, id, label (class name; empty when
    skipped), gold label where the data has one, who labelled it (``oracle`` or a user name) and
    when. This is the source of truth.
``pending.json``
    Labels given to the current, not yet committed batch (so a reload keeps them).
``decisions.jsonl``
    Every decision a person made, as events (label, skip, undo, commit) with author and UTC time,
    appended, never rewritten in place (:mod:`explorer.decisions`); absent in sessions saved
    before it existed, which load as before.
``rounds.parquet``, ``queries.parquet``
    The derived tables, refreshed on every save (same schemas as ``anchoral simulate``).

Every file is written to a temporary name and renamed, so a crash or ``kill -9`` leaves either
the old or the new file, never half of one. Reopening a session **replays** it: the experiment is
rebuilt from its settings and seed, and each stored round is re-selected and checked against the
stored ids before its labels are committed again, so a resumed session is exactly the session that
was saved (and a mismatch is reported, not hidden). One process writes a session at a time: an
exclusive ``flock`` on ``.lock`` (released by the OS even on ``kill -9``), a held one is a
:class:`~explorer.exceptions.SessionLockedError`.

A :class:`Session` can also live in memory (:meth:`Session.in_memory`: the app's comparison before
the user saves it) with the same provenance and pending labels, and be written later
(:meth:`Session.save_as`). Exports are :func:`explorer.export.export`.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import decisions as _decisions
from ._io import write_atomic
from .exceptions import SessionError
from .session_files import WriterLock as _Lock
from .session_files import check_files, read_json, read_table, session_file
from .settings import SETTINGS

FORMAT = "anchoral-session"
VERSION = 1

LABEL_COLUMNS = ["run", "round", "position", "id", "label", "skipped", "gold", "source", "user",
                 "time"]


def _now():
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _json_default(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot store {type(v).__name__} in session.json")


@dataclass(frozen=True)
class Provenance:
    """Who labelled one round of one run, and when.

    ``label_source`` is ``"oracle"`` (the data's gold labels were revealed) or ``"human"`` (a
    person labelled the batch); the labels table stores it in its ``source`` column.
    """

    label_source: str = "oracle"
    user: str = "oracle"
    time: str = ""

    @classmethod
    def of(cls, value) -> Provenance:
        """From a :class:`Provenance` or a ``{"source"|"label_source", "user", "time"}`` dict."""
        if isinstance(value, Provenance):
            return value
        value = dict(value or {})
        return cls(str(value.get("label_source", value.get("source", "oracle"))),
                   str(value.get("user", "oracle")), str(value.get("time", "") or ""))

    def to_row(self) -> dict:
        """The ``source``, ``user``, ``time`` columns of :data:`LABEL_COLUMNS`."""
        return {"source": self.label_source, "user": self.user, "time": self.time}


_ORACLE = Provenance()


class Session(_decisions.SessionDecisions):
    """An :class:`~explorer.experiment.Experiment` with the provenance of its labels, in memory or
    bound to a directory it is saved to.

    Use :func:`create_session`, :func:`open_session` or :func:`open_or_create` for a directory,
    :meth:`in_memory` for a session without one (:meth:`save_as` writes it later). Then
    :meth:`commit` (a person's labels for one run's proposed batch) or :meth:`step` (one
    simulated round of every run); a bound session saves before they return. A person's
    decisions on the open batch go through :meth:`decide` and :meth:`undo`, and
    :meth:`history` lists a row's (:class:`~explorer.decisions.SessionDecisions`).

    Attributes
    ----------
    path : Path or None
        The directory; ``None`` while the session lives in memory.
    experiment : Experiment
    data_spec : dict
        The dataset reference (:func:`data_spec_of`).
    settings : dict
        The experiment's keyword arguments (:data:`~explorer.settings.SETTINGS`).
    provenance : dict
        ``(run key, round) -> Provenance`` for every committed round (oracle when absent).
    resumed : bool
        True when :func:`open_session` replayed a saved session.
    """

    def __init__(self, path, experiment, data_spec=None, settings=None, meta=None,
                 readonly=False):
        self.path = None if path is None else Path(path)
        self.experiment = experiment
        self.data_spec = dict(data_spec or {})
        self.settings = dict(settings or {})
        self.provenance = {k: Provenance.of(v) for k, v in (meta or {}).items()}
        self.readonly = readonly
        self.resumed = False
        self._pending = {}  # run key -> {id (str): label name or None}
        #: every recorded decision, oldest first (:mod:`explorer.decisions` events)
        self.decisions: list = []
        self._lock = None
        self.created = _now()

    @classmethod
    def in_memory(cls, experiment, data_spec=None, settings=None, meta=None) -> Session:
        """A session of ``experiment`` that lives in memory until :meth:`save_as`."""
        return cls(None, experiment, data_spec, settings, meta=meta)

    @property
    def runs_spec(self) -> list:
        """The runs as ``session.json`` stores them (forks with their parent and round)."""
        return [_run_spec(r) for r in self.experiment.runs]

    def label_source(self, run_key, rnd) -> str:
        """``"oracle"`` or ``"human"``: who labelled round ``rnd`` of ``run_key``."""
        return self.provenance.get((run_key, rnd), _ORACLE).label_source

    # -- writing ----------------------------------------------------------------------------
    def _check_writable(self):
        if self.readonly:
            raise SessionError(f"session {self.path} was opened read-only; reopen it to write")

    def _autosave(self):
        if self.path is not None:
            self.save()

    def commit(self, run_key, labels=None, user="oracle"):
        """Commit labels for ``run_key``'s proposed batch (``None``: the gold oracle); saved
        when bound. Returns the round's :class:`~explorer.runs.RoundResult`."""
        self._check_writable()
        run = self.experiment.run_by_key(run_key)
        rec = run.commit(labels)
        self.provenance[(run.key, rec.round)] = Provenance(
            "oracle" if labels is None else "human", user, _now())
        if labels is not None:
            self._commit_events(rec, user)
        self.clear_pending(run.key)
        self._autosave()
        return rec

    def step(self, callback=None, cancel=None):
        """One simulated round of every run (gold oracle); saved when done (when bound)."""
        self._check_writable()
        records = self.experiment.step(callback=callback, cancel=cancel)
        now = _now()
        for run in self.experiment.runs:
            self.provenance.setdefault((run.key, run.round), Provenance("oracle", "oracle", now))
        self._autosave()
        return records

    def fork(self, run_key, at_round, **overrides):
        """Branch a new run off ``run_key`` after ``at_round`` with other settings (the fork
        inherits the provenance of those rounds); saved when bound."""
        self._check_writable()
        run = self.experiment.fork(run_key, at_round, **overrides)
        for (key, rnd), m in list(self.provenance.items()):
            if key == run_key and rnd <= at_round:
                self.provenance[(run.key, rnd)] = m
        self._autosave()
        return run

    def save_pending(self, run_key, labels: dict):
        """Keep the labels given so far to ``run_key``'s open batch (id -> label name)."""
        self._check_writable()
        self._pending[run_key] = {str(int(k)): v for k, v in labels.items()}
        self._write_pending()

    def clear_pending(self, run_key):
        if self._pending.pop(run_key, None) is not None:
            self._write_pending()

    def _write_pending(self):
        if self.path is not None:
            pending = dict(self._pending)
            write_atomic(self.path / "pending.json",
                         lambda p: p.write_text(json.dumps(pending, indent=1)))

    def pending(self) -> dict:
        """Labels given to open batches: ``{run key: {id (str): label name or None}}``."""
        return {k: dict(v) for k, v in self._pending.items()}

    def save(self):
        """Write every file atomically (labels last but one: they are the source of truth)."""
        self._check_writable()
        if self.path is None:
            raise SessionError("this session lives in memory; give it a directory with "
                               "save_as(path) first")
        self.path.mkdir(parents=True, exist_ok=True)
        check_files(self.path)
        doc = {"format": FORMAT, "version": VERSION, "created": self.created, "saved": _now(),
               "dataset": self.data_spec, "settings": self.settings, "runs": self.runs_spec}
        write_atomic(self.path / "session.json",
                     lambda p: p.write_text(json.dumps(doc, indent=2, default=_json_default)))
        labels = self.labels_frame()
        if self.decisions:
            _decisions.write_decisions(self.path, self.decisions)
        write_atomic(self.path / "labels.parquet", lambda p: labels.to_parquet(p, index=False))
        self.experiment.save(self.path)
        self._write_pending()

    def save_as(self, path, wait_s=0.0) -> Session:
        """Write this session to the new directory ``path`` (which must not hold a session),
        take its writer lock and stay bound to it: later rounds are saved there."""
        if self.path is not None and self._lock is not None:
            raise SessionError(f"this session is already saved in {self.path}; use "
                               "snapshot(path) for a copy")
        path = Path(path)
        _check_new_session(path, self.settings)
        path.mkdir(parents=True, exist_ok=True)
        lock = _Lock(path)
        lock.acquire(wait_s)
        try:
            self.experiment.start()
            self.path, self.readonly, self._lock = path, False, lock
            self.save()
        except BaseException:
            lock.release()
            self._lock, self.path = None, None
            raise
        return self

    def snapshot(self, path) -> Path:
        """Write a copy of this session to the new directory ``path`` and stay as it is."""
        copy = Session.in_memory(self.experiment, self.data_spec, self.settings, self.provenance)
        copy._pending = self.pending()
        copy.decisions = list(self.decisions)
        copy.save_as(path).close()
        return Path(path)

    def close(self):
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- reading ----------------------------------------------------------------------------
    def labels_frame(self) -> pd.DataFrame:
        """Every committed label with provenance; columns :data:`LABEL_COLUMNS`."""
        exp = self.experiment
        classes = exp.dataset.classes
        y = exp.dataset.y
        rows = []
        for run in exp.runs:
            start = getattr(run, "fork_round", 0) or 0
            for rec in run.records[1:]:
                if rec.round <= start and getattr(run, "parent", None):
                    continue  # a fork's inherited rounds are stored under its parent
                m = self.provenance.get((run.key, rec.round), _ORACLE).to_row()
                for pos, (i, lab) in enumerate(zip(rec.queried_ids, rec.queried_labels)):
                    rows.append({
                        "run": run.key, "round": int(rec.round), "position": pos, "id": int(i),
                        "label": classes[lab] if lab >= 0 else "", "skipped": bool(lab < 0),
                        "gold": classes[y[i]] if y[i] >= 0 else "", **m})
        if not rows:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
                LABEL_COLUMNS, [str, "int64", "int64", "int64", str, bool, str, str, str, str])})
        return pd.DataFrame(rows, columns=LABEL_COLUMNS)

    def agreement(self, run_key=None) -> float:
        """Share of human labels that equal the gold label (NaN when none can be compared)."""
        df = self.labels_frame()
        df = df[(df["source"] == "human") & ~df["skipped"] & (df["gold"] != "")]
        if run_key is not None:
            df = df[df["run"] == run_key]
        return float((df["label"] == df["gold"]).mean()) if len(df) else float("nan")


def _run_spec(run):
    return {"key": run.key, "filter": run.filter_name, "strategy": run.strategy_name,
            "parent": getattr(run, "parent", None), "fork_round": getattr(run, "fork_round", 0),
            "params": getattr(run, "params", {}) or {},
            "chosen_rounds": [int(r) for r in getattr(run, "chosen_rounds", ())]}


def data_spec_of(prepared, source, options=None) -> dict:
    """The dataset reference a session stores, enough to prepare the same pool again.

    Parameters
    ----------
    prepared : Prepared
        The pool the session runs on (its name, minority classes, size and content hash).
    source : str or Path
        What the user gave: a built-in name (:data:`explorer.corpora.BUILTIN`) and a
        ``synthetic:N`` source are stored as given, a file as its absolute path.
    options : PrepareOptions, optional
        The options the pool was prepared with (default ``prepared.options``); their
        :meth:`~explorer.options.PrepareOptions.to_spec` is stored.

    Returns
    -------
    dict
        ``source, name, text_col, label_col, minority, content_hash, embeddings, index,
        embeddings_dtype, n, drop_invalid``; :func:`open_session` prepares the pool from it
        (:meth:`~explorer.options.PrepareOptions.from_spec`) and :func:`check_dataset`
        compares ``content_hash``.
    """
    from .corpora import is_builtin

    options = options if options is not None else prepared.options
    ds = prepared.dataset
    src = str(source)
    if not (is_builtin(src) or src.startswith("synthetic:")):
        src = str(Path(src).expanduser().resolve())
    return {"source": src, "name": ds.name, **options.to_spec(),
            "minority": list(ds.minority_names), "content_hash": ds.content_hash,
            "n": int(ds.n), "drop_invalid": bool(ds.dropped)}


def _check_new_session(path: Path, settings):
    """Raise :class:`SessionError` unless ``path`` can hold a new session with ``settings``."""
    if (path / "session.json").exists():
        raise SessionError(f"{path} already holds a session: open it (--session {path}) or "
                           "choose another directory")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise SessionError(f"unknown session setting(s) {', '.join(unknown)}; known: "
                           f"{', '.join(SETTINGS)}")


def create_session(path, prepared, data_spec, runs=(("anchoral", "entropy"),), **settings):
    """Start a new session in ``path`` (must not hold one) and save round 0.

    ``settings`` are :class:`~explorer.experiment.Experiment` keyword arguments (see
    :data:`SETTINGS`).
    """
    from .experiment import Experiment

    _check_new_session(Path(path), settings)
    return save_experiment(path, Experiment(prepared, list(runs), **settings), data_spec,
                           settings)


def check_dataset(doc, prepared, path=None):
    """Raise :class:`SessionError` unless ``prepared`` is the pool the session was made on.

    ``doc`` is a session's ``session.json`` (:func:`read_manifest`) or its ``dataset`` entry.
    The one message names the session's dataset and the command that opens it.
    """
    spec = doc.get("dataset", doc) if isinstance(doc, dict) else {}
    if prepared.dataset.content_hash == spec.get("content_hash"):
        return
    where = f"session {path}" if path is not None else "the session"
    src = spec.get("source")
    raise SessionError(
        f"{where} was made on dataset {src!r} ({spec.get('name')}), and the data given is not "
        "that dataset (its content hash differs: another dataset, or the file changed since the "
        "session was saved); serve that dataset to open it (anchoral serve "
        f"{src} --session {path if path is not None else 'DIR'}), or restore the original file")


def open_or_create(path, prepared, spec, runs=(("anchoral", "entropy"),), wait_s=0.0,
                   progress=None, **settings) -> Session:
    """The session in ``path``: resumed (replayed) when it holds one, else created.

    Parameters
    ----------
    path : directory
    prepared : Prepared
        The pool; a resumed session must have been made on it (:func:`check_dataset`).
    spec : dict
        The dataset reference of a new session (:func:`data_spec_of`).
    runs : sequence of (filter, strategy)
        The runs of a new session (ignored when resuming: the session keeps its own).
    wait_s : float
        How long to wait for another process's writer lock before :class:`SessionLockedError`.
    **settings
        :class:`~explorer.experiment.Experiment` keyword arguments of a new session.

    The returned session's ``resumed`` tells which happened.
    """
    path = Path(path)
    if (path / "session.json").exists():
        return open_session(path, prepared=prepared, progress=progress, wait_s=wait_s)
    return create_session(path, prepared, spec, runs, **settings)


def read_manifest(path) -> dict:
    """``session.json`` of ``path``, validated; :class:`SessionError` for anything else."""
    path = Path(path)
    if not path.is_dir():
        raise SessionError(f"session directory {str(path)!r} not found")
    f = session_file(path, "session.json")
    doc = read_json(path, "session.json")
    if doc is None:
        raise SessionError(f"{path} is not an AnchorAL session (no session.json); give a "
                           "directory written by `anchoral label` or the app")
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionError(f"{f} is not an AnchorAL session file (format tag missing)")
    if doc.get("version") != VERSION:
        raise SessionError(f"{f} has format version {doc.get('version')!r}; this AnchorAL "
                           f"Explorer reads version {VERSION}")
    for key in ("dataset", "settings", "runs"):
        if key not in doc:
            raise SessionError(f"{f} is corrupted: '{key}' is missing")
    return doc


def read_labels(path) -> pd.DataFrame:
    """``labels.parquet`` of the session in ``path``; :class:`SessionError` when it is missing
    (a session is created with its empty table) or damaged."""
    df = read_table(path, "labels.parquet", LABEL_COLUMNS)
    if df is None:
        raise SessionError(f"{Path(path) / 'labels.parquet'} is missing, so the session's "
                           "labels are lost; restore it from a backup, or start a new session")
    return df


def check_session(path, prepared) -> dict:
    """``session.json`` of ``path`` (:func:`read_manifest`), checked to be made on ``prepared``
    (:func:`check_dataset`): what a caller that reports errors before opening reads, once, and
    hands to :func:`open_session` as ``manifest``."""
    doc = read_manifest(path)
    check_dataset(doc, prepared, path)
    return doc


def open_session(path, prepared=None, readonly=False, progress=None, wait_s=0.0,
                 manifest=None):
    """Reopen a saved session and replay it to where it stopped.

    Parameters
    ----------
    path : directory written by :func:`create_session`
    prepared : Prepared, optional
        The prepared dataset; prepared from the stored reference when omitted.
    readonly : bool
        Do not take the writer lock (for exports and viewers).
    progress : callable(done, total), optional
    wait_s : float
        How long to wait for another process's writer lock (retrying) before raising
        :class:`~explorer.exceptions.SessionLockedError`.
    manifest : dict, optional
        ``session.json`` as :func:`check_session` returned it for this ``path`` and
        ``prepared``: neither read nor checked again.

    The steps: read the files (:func:`_read_stored`), prepare and check the pool
    (:func:`_pool_of`), take the writer lock, replay the rounds (:func:`_replay`), then rebuild
    the session with its provenance (:func:`_resumed`).
    """
    path = Path(path)
    checked = manifest is not None and prepared is not None
    doc, labels, pending, decisions = _read_stored(path, manifest)
    if not checked:
        prepared = _pool_of(doc["dataset"], prepared, path)
    lock = None
    if not readonly:
        lock = _Lock(path)
        lock.acquire(wait_s)
    try:
        exp, meta = _replay(path, doc, prepared, labels, progress)
        sess = _resumed(path, exp, doc, meta, readonly)
        sess._pending, sess.decisions, sess._lock = pending, decisions, lock
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return sess


def _read_stored(path, manifest=None):
    """``(session.json, labels, pending, decisions)`` of ``path``, every file checked before
    any work (a damaged derived table is named too)."""
    doc = manifest if manifest is not None else read_manifest(path)
    check_files(path)
    labels = read_labels(path)
    for name in ("rounds.parquet", "queries.parquet"):
        read_table(path, name)
    return doc, labels, _read_pending(path), _decisions.read_decisions(path)


def _pool_of(spec, prepared, path):
    """``prepared`` (or the pool prepared from the stored reference ``spec``), checked to be
    the session's dataset."""
    if prepared is None:
        from .options import PrepareOptions
        from .prepare import prepare

        prepared = prepare(spec["source"], PrepareOptions.from_spec(spec), progress=False)
    check_dataset(spec, prepared, path)
    return prepared


def _replay(path, doc, prepared, labels, progress=None):
    """The experiment rebuilt from the stored settings and seed, every stored round re-selected
    (:func:`_replay_round`) and committed; ``(experiment, {(run key, round): provenance})``."""
    from .experiment import Experiment

    roots = [(r["filter"], r["strategy"]) for r in doc["runs"] if not r.get("parent")]
    exp = Experiment(prepared, roots, **doc["settings"])
    exp.start()
    meta = {}
    total = len(labels.groupby(["run", "round"])) if len(labels) else 0
    for spec_run in doc["runs"]:
        if spec_run.get("parent"):
            exp.fork(spec_run["parent"], spec_run["fork_round"], filter=spec_run["filter"],
                     strategy=spec_run["strategy"], **(spec_run.get("params") or {}))
        run = exp.run_by_key(spec_run["key"])
        chosen = spec_run.get("chosen_rounds") or ()
        for rnd, batch in labels[labels["run"] == run.key].groupby("round", sort=True):
            meta[(run.key, int(rnd))] = _replay_round(path, run, int(rnd), batch,
                                                      int(rnd) in chosen)
            if progress is not None:
                progress(len(meta), total)
    return exp, meta


def _replay_round(path, run, rnd, batch, chosen) -> dict:
    """Re-select round ``rnd`` of ``run``, check it against the stored ids and commit the
    stored labels; the round's ``{source, user, time}``."""
    batch = batch.sort_values("position")
    stored = batch["id"].to_numpy(np.int64)
    # a batch a person chose (a map selection) replays as chosen, not as selected
    sel = run.choose(stored) if chosen else run.propose()
    if not np.array_equal(sel.ids, stored):
        raise SessionError(
            f"session {path} does not replay: run {run.key} round {rnd} now selects "
            "other rows than the stored ones (settings, data or library version changed)")
    run.commit([None if s else lab for lab, s in zip(batch["label"], batch["skipped"])])
    first = batch.iloc[0]
    return {"source": first["source"], "user": first["user"], "time": first["time"]}


def _resumed(path, exp, doc, meta, readonly) -> Session:
    """The :class:`Session` of a replayed experiment, with its provenance (a fork inherits
    its parent's)."""
    sess = Session(path, exp, doc["dataset"], doc["settings"], meta=meta, readonly=readonly)
    sess.created, sess.resumed = doc.get("created", sess.created), True
    for run in exp.runs:
        parent = getattr(run, "parent", None)
        for rnd in range(1, (getattr(run, "fork_round", 0) or 0) + 1):
            if parent and (parent, rnd) in meta:
                sess.provenance[(run.key, rnd)] = sess.provenance[(parent, rnd)]
    return sess


def save_experiment(path, experiment, data_spec, settings, meta=None):
    """Save an experiment that is already under way (e.g. the app's comparison) as a new session.

    Like :func:`create_session`, but the rounds the experiment has run are kept as they are (no
    replay). ``settings`` are the experiment's keyword arguments (see :data:`SETTINGS`);
    ``meta`` maps ``(run key, round)`` to a :class:`Provenance` or a ``{source, user, time}``
    dict (default: the gold oracle). Same as ``Session.in_memory(...).save_as(path)``.
    Returns the writable :class:`Session`, holding the writer lock.
    """
    return Session.in_memory(experiment, data_spec, settings, meta).save_as(path)


def _read_pending(path) -> dict:
    """``pending.json`` ({run key: {id: label}}); :class:`SessionError` when it is damaged."""
    doc = read_json(path, "pending.json", missing={})
    if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
        raise SessionError(f"{Path(path) / 'pending.json'} is not a pending-labels file; "
                           "delete it to drop the labels given to the open batch")
    return doc
