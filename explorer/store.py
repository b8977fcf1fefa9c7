"""Saved, resumable labelling sessions, in open formats (JSON + Parquet, never pickle).

A session directory holds:

``session.json``
    Format tag and version, the dataset reference (source, columns, minority, content hash),
    every setting of the :class:`~explorer.session.Experiment`, and the runs (forks included).
``labels.parquet``
    Every committed label: run, round, position in the batch, id, label (class name; empty when
    skipped), gold label where the data has one, who labelled it (``oracle`` or a user name) and
    when. This is the source of truth.
``pending.json``
    Labels given to the current, not yet committed batch (so a reload keeps them).
``rounds.parquet``, ``queries.parquet``
    The derived tables, refreshed on every save (same schemas as ``anchoral simulate``).

Every file is written to a temporary name and renamed, so a crash or ``kill -9`` leaves either
the old or the new file, never half of one. Reopening a session **replays** it: the experiment is
rebuilt from its settings and seed, and each stored round is re-selected and checked against the
stored ids before its labels are committed again, so a resumed session is exactly the session that
was saved (and a mismatch is reported, not hidden). One process writes a session at a time: an
exclusive ``flock`` on ``.lock`` (released by the OS even on ``kill -9``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .exceptions import SessionError
from .session_files import check_files, read_json, read_table, session_file

FORMAT = "anchoral-session"
VERSION = 1

#: Experiment keyword arguments a session stores (the runs are stored separately)
SETTINGS = ("model", "query_size", "init_size", "init_per_minority", "seed", "test_size",
            "subpool_size", "n_anchors", "n_neighbors", "anchor_strategy", "minority_only",
            "sampling", "temperature", "class_weight", "model_params", "mode")

LABEL_COLUMNS = ["run", "round", "position", "id", "label", "skipped", "gold", "source", "user",
                 "time"]


def _now():
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _write_atomic(path: Path, write):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _json_default(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"cannot store {type(v).__name__} in session.json")


class _Lock:
    """An exclusive, non-blocking ``flock`` on ``<dir>/.lock``."""

    def __init__(self, directory: Path):
        self.path = directory / ".lock"
        self.fd = None

    def acquire(self):
        import fcntl

        session_file(self.path.parent, ".lock")  # a link would truncate its target
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise SessionError(
                f"session {self.path.parent} is open for writing by another process "
                f"({holder}); close it there first, or open it read-only"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self.fd = fd

    def release(self):
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class Session:
    """An :class:`~explorer.session.Experiment` bound to a directory it is saved to.

    Use :func:`create_session` or :func:`open_session`; then :meth:`commit` (a person's labels
    for one run's proposed batch) or :meth:`step` (one simulated round of every run). Both save
    before they return.
    """

    def __init__(self, path, experiment, data_spec, settings, runs_spec, meta=None,
                 readonly=False):
        self.path = Path(path)
        self.experiment = experiment
        self.data_spec = dict(data_spec)
        self.settings = dict(settings)
        self.runs_spec = list(runs_spec)
        self.meta = dict(meta or {})  # (run key, round) -> {source, user, time}
        self.readonly = readonly
        self._lock = None
        self.created = _now()

    # -- writing ----------------------------------------------------------------------------
    def _check_writable(self):
        if self.readonly:
            raise SessionError(f"session {self.path} was opened read-only; reopen it to write")

    def commit(self, run_key, labels=None, user="oracle"):
        """Commit labels for ``run_key``'s proposed batch (``None``: the gold oracle); save."""
        self._check_writable()
        run = self.experiment.run_by_key(run_key)
        rec = run.commit(labels)
        self.meta[(run.key, rec["round"])] = {
            "source": "oracle" if labels is None else "human", "user": user, "time": _now()}
        self.clear_pending(run.key)
        self.save()
        return rec

    def step(self, callback=None, cancel=None):
        """One simulated round of every run (gold oracle); saved when done."""
        self._check_writable()
        records = self.experiment.step(callback=callback, cancel=cancel)
        now = _now()
        for run in self.experiment.runs:
            self.meta.setdefault((run.key, run.round), {"source": "oracle", "user": "oracle",
                                                        "time": now})
        self.save()
        return records

    def fork(self, run_key, at_round, **overrides):
        """Branch a new run off ``run_key`` after ``at_round`` with other settings; saved."""
        self._check_writable()
        run = self.experiment.fork(run_key, at_round, **overrides)
        self.runs_spec.append(_run_spec(run))
        for (key, rnd), m in list(self.meta.items()):
            if key == run_key and rnd <= at_round:
                self.meta[(run.key, rnd)] = m
        self.save()
        return run

    def save_pending(self, run_key, labels: dict):
        """Keep the labels given so far to ``run_key``'s open batch (id -> label name)."""
        self._check_writable()
        pending = self.pending()
        pending[run_key] = {str(int(k)): v for k, v in labels.items()}
        _write_atomic(self.path / "pending.json",
                      lambda p: p.write_text(json.dumps(pending, indent=1)))

    def clear_pending(self, run_key):
        pending = self.pending()
        if pending.pop(run_key, None) is not None:
            _write_atomic(self.path / "pending.json",
                          lambda p: p.write_text(json.dumps(pending, indent=1)))

    def pending(self) -> dict:
        """{run key: {id: label}} given to open batches; SessionError when the file is damaged."""
        doc = read_json(self.path, "pending.json", missing={})
        if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
            raise SessionError(f"{self.path / 'pending.json'} is not a pending-labels file; "
                               "delete it to drop the labels given to the open batch")
        return doc

    def save(self):
        """Write every file atomically (labels last but one: they are the source of truth)."""
        self._check_writable()
        self.path.mkdir(parents=True, exist_ok=True)
        check_files(self.path)
        doc = {"format": FORMAT, "version": VERSION, "created": self.created, "saved": _now(),
               "dataset": self.data_spec, "settings": self.settings, "runs": self.runs_spec}
        _write_atomic(self.path / "session.json",
                      lambda p: p.write_text(json.dumps(doc, indent=2, default=_json_default)))
        labels = self.labels_frame()
        _write_atomic(self.path / "labels.parquet", lambda p: labels.to_parquet(p, index=False))
        exp = self.experiment
        rounds, queries = exp.rounds_frame(), exp.queries_frame()
        _write_atomic(self.path / "rounds.parquet", lambda p: rounds.to_parquet(p, index=False))
        _write_atomic(self.path / "queries.parquet", lambda p: queries.to_parquet(p, index=False))

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
                if rec["round"] <= start and getattr(run, "parent", None):
                    continue  # a fork's inherited rounds are stored under its parent
                m = self.meta.get((run.key, rec["round"]), {"source": "oracle", "user": "oracle",
                                                            "time": ""})
                for pos, (i, lab) in enumerate(zip(rec["queried_ids"], rec["queried_labels"])):
                    rows.append({
                        "run": run.key, "round": int(rec["round"]), "position": pos, "id": int(i),
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
            "params": getattr(run, "params", {}) or {}}


def data_spec_of(prepared, source, text_col="text", label_col="label", embeddings=None,
                 index="auto"):
    ds = prepared.dataset
    src = str(source)
    if src not in ("sample", "brown"):
        src = str(Path(src).expanduser().resolve())
    return {"source": src, "name": ds.name, "text_col": text_col, "label_col": label_col,
            "minority": list(ds.minority_names), "content_hash": ds.content_hash,
            "embeddings": None if embeddings is None else str(Path(embeddings).resolve()),
            "index": index, "n": int(ds.n), "drop_invalid": bool(ds.dropped)}


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

    ``settings`` are :class:`~explorer.session.Experiment` keyword arguments (see
    :data:`SETTINGS`).
    """
    from .session import Experiment

    _check_new_session(Path(path), settings)
    return save_experiment(path, Experiment(prepared, list(runs), **settings), data_spec,
                           settings)


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
    """Every committed label of the session in ``path`` (SessionError when missing or damaged)."""
    df = read_table(path, "labels.parquet", LABEL_COLUMNS)
    if df is None:  # a session is created with its (empty) labels table
        raise SessionError(f"{Path(path) / 'labels.parquet'} is missing, so the session's "
                           "labels are lost; restore it from a backup, or start a new session")
    return df


def open_session(path, prepared=None, readonly=False, progress=None):
    """Reopen a saved session and replay it to where it stopped.

    Parameters
    ----------
    path : directory written by :func:`create_session`
    prepared : Prepared, optional
        The prepared dataset; prepared from the stored reference when omitted.
    readonly : bool
        Do not take the writer lock (for exports and viewers).
    progress : callable(done, total), optional
    """
    from .prepare import prepare
    from .session import Experiment

    path = Path(path)
    doc = read_manifest(path)
    check_files(path)
    labels = read_labels(path)
    for name in ("rounds.parquet", "queries.parquet"):  # derived, but a damaged one is named
        read_table(path, name)
    read_json(path, "pending.json", missing={})
    spec = doc["dataset"]
    if prepared is None:
        prepared = prepare(spec["source"], text_col=spec.get("text_col", "text"),
                           label_col=spec.get("label_col", "label"),
                           minority=spec.get("minority") or None,
                           drop_invalid=bool(spec.get("drop_invalid", False)),
                           embeddings=spec.get("embeddings"), index=spec.get("index", "auto"),
                           progress=False)
    if prepared.dataset.content_hash != spec.get("content_hash"):
        raise SessionError(
            f"the dataset {spec.get('source')!r} changed since the session was saved (content "
            "hash differs); restore the original file to resume this session")
    lock = None
    if not readonly:
        lock = _Lock(path)
        lock.acquire()
    try:
        roots = [(r["filter"], r["strategy"]) for r in doc["runs"] if not r.get("parent")]
        exp = Experiment(prepared, roots, **doc["settings"])
        exp.start()
        meta = {}
        total = len(labels.groupby(["run", "round"])) if len(labels) else 0
        done = 0
        for spec_run in doc["runs"]:
            if spec_run.get("parent"):
                exp.fork(spec_run["parent"], spec_run["fork_round"], filter=spec_run["filter"],
                         strategy=spec_run["strategy"], **(spec_run.get("params") or {}))
            run = exp.run_by_key(spec_run["key"])
            mine = labels[labels["run"] == run.key]
            for rnd, batch in mine.groupby("round", sort=True):
                batch = batch.sort_values("position")
                sel = run.propose()
                stored = batch["id"].to_numpy(np.int64)
                if not np.array_equal(sel.ids, stored):
                    raise SessionError(
                        f"session {path} does not replay: run {run.key} round {rnd} now selects "
                        "other rows than the stored ones (settings, data or library version "
                        "changed)")
                names = [None if s else lab for lab, s in zip(batch["label"], batch["skipped"])]
                run.commit(names)
                first = batch.iloc[0]
                meta[(run.key, int(rnd))] = {"source": first["source"], "user": first["user"],
                                             "time": first["time"]}
                done += 1
                if progress is not None:
                    progress(done, total)
        sess = Session(path, exp, spec, doc["settings"], doc["runs"], meta, readonly=readonly)
        sess.created = doc.get("created", sess.created)
        for run in exp.runs:  # a fork inherits its parent's provenance
            parent = getattr(run, "parent", None)
            for rnd in range(1, (getattr(run, "fork_round", 0) or 0) + 1):
                if parent and (parent, rnd) in meta:
                    sess.meta[(run.key, rnd)] = meta[(parent, rnd)]
        sess._lock = lock
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return sess


def save_experiment(path, experiment, data_spec, settings, meta=None):
    """Save an experiment that is already under way (e.g. the app's comparison) as a new session.

    Like :func:`create_session`, but the rounds the experiment has run are kept as they are (no
    replay). ``settings`` are the experiment's keyword arguments (see :data:`SETTINGS`);
    ``meta`` maps ``(run key, round)`` to ``{source, user, time}`` (default: the gold oracle).
    Returns the writable :class:`Session`, holding the writer lock.
    """
    path = Path(path)
    _check_new_session(path, settings)
    path.mkdir(parents=True, exist_ok=True)
    lock = _Lock(path)
    lock.acquire()
    try:
        experiment.start()
        sess = Session(path, experiment, data_spec, settings,
                       [_run_spec(r) for r in experiment.runs], meta)
        sess._lock = lock
        sess.save()
    except BaseException:
        lock.release()
        raise
    return sess
