"""Who labelled what: every labelling decision of a session as an event, and a row's history.

The functions here read and write the events; :class:`SessionDecisions` gives
:class:`~explorer.store.Session` its ``decide``, ``undo`` and ``history`` methods.

A person's decision on one row (a label, a skip, an undo) and the batch commit that trains on it
are events appended to ``decisions.jsonl`` in the session directory: one JSON object a line with
the keys of :data:`DECISION_COLUMNS`. Nothing is overwritten: changing a label is a new ``label``
event, undoing one an ``undo`` event, and a row's current decision is its latest event
(:func:`current`). The file only grows; each write replaces it atomically with the old lines plus
the new ones (:func:`write_decisions`), so a crash leaves the old file or the new one.

Sessions saved before this file existed load as before: their committed labels are read from
``labels.parquet`` and shown as ``commit`` events, with author ``"unknown"`` where none was stored
(:func:`history`).
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

import pandas as pd

from ._io import write_atomic
from .exceptions import ParameterError, SessionError

FILE = "decisions.jsonl"
#: the fields of one event
DECISION_COLUMNS = ["run", "round", "id", "action", "label", "author", "time"]
#: ``label``: a class given; ``skip``: skipped; ``undo``: the row's decision withdrawn;
#: ``commit``: the batch was committed with this label (what the model trained on)
ACTIONS = ("label", "skip", "undo", "commit")
UNKNOWN = "unknown"


def now() -> str:
    """The time now, UTC, ISO 8601 to the millisecond (``2026-12-04T14:30:00.123+00:00``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def event(run, rnd, row_id, action, label="", author=None, time=None) -> dict:
    """One decision as a dict of :data:`DECISION_COLUMNS` (validated).

    Parameters
    ----------
    run : str
        The run key.
    rnd : int
        The round the batch belongs to.
    row_id : int
        Global row id.
    action : {"label", "skip", "undo", "commit"}
    label : str
        The class name (empty for ``skip`` and ``undo``, and for a skipped ``commit``).
    author : str, optional
        Who decided; empty or None is stored as ``"unknown"``.
    time : str, optional
        UTC ISO time; now when omitted.
    """
    if action not in ACTIONS:
        raise ParameterError(f"action={action!r} is not a decision; use one of "
                             f"{', '.join(ACTIONS)}")
    author = str(author or "").strip() or UNKNOWN
    return {"run": str(run), "round": int(rnd), "id": int(row_id), "action": action,
            "label": "" if label is None else str(label), "author": author,
            "time": time or now()}


def frame(events) -> pd.DataFrame:
    """Events as a table with :data:`DECISION_COLUMNS` (typed, also when empty)."""
    if not events:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            DECISION_COLUMNS, [str, "int64", "int64", str, str, str, str])})
    return pd.DataFrame(list(events), columns=DECISION_COLUMNS).astype(
        {"round": "int64", "id": "int64"})


def read_decisions(directory) -> list:
    """The events of ``directory/decisions.jsonl`` in file order (``[]`` when it does not exist:
    a session saved before decisions were recorded).

    Raises
    ------
    SessionError
        A line that is not a decision (a damaged file), naming the file, the line and the fix.
    """
    from .session_files import RECOVER, session_file

    f = session_file(directory, FILE)
    if not f.exists():
        return []
    out = []
    for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            out.append(event(doc["run"], doc["round"], doc["id"], doc["action"],
                             doc.get("label", ""), doc.get("author"), doc.get("time") or ""))
        except (ValueError, KeyError, TypeError, ParameterError) as err:
            raise SessionError(f"{f} line {n} is not a decision ({type(err).__name__}: "
                               f"{str(err)[:120]}); {RECOVER[FILE]}") from None
    return out


def write_decisions(directory, events) -> Path:
    """Write every event to ``directory/decisions.jsonl`` atomically (one JSON object a line).

    The session only ever appends to its list of events, so each write is the previous file
    plus the new lines.
    """
    from .session_files import session_file

    f = session_file(directory, FILE)
    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    return write_atomic(f, lambda p: p.write_text(text, encoding="utf-8"))


def current(events) -> dict:
    """``{(run, id): label or None}`` of the rows whose latest event is a label or a skip (None);
    a row whose latest event is an ``undo`` has no decision."""
    out = {}
    for e in events:
        key = (e["run"], int(e["id"]))
        if e["action"] == "undo":
            out.pop(key, None)
        else:
            out[key] = e["label"] if e["action"] != "skip" and e["label"] else None
    return out


def history(session, row_id) -> pd.DataFrame:
    """Every decision on row ``row_id`` in ``session``, oldest first.

    Parameters
    ----------
    session : Session
        A :class:`~explorer.store.Session` (its recorded events and committed labels).
    row_id : int
        Global row id.

    Returns
    -------
    DataFrame
        Columns :data:`DECISION_COLUMNS`; the row's current label is the last row's. Committed
        labels with no recorded event (a session saved before ``decisions.jsonl``, or the
        gold oracle) appear as ``commit`` events from ``labels.parquet``, with the stored user
        as author (``"unknown"`` when none was stored).
    """
    row_id = int(row_id)
    mine = [e for e in session.decisions if int(e["id"]) == row_id]
    seen = {(e["run"], e["round"]) for e in mine if e["action"] == "commit"}
    labels = session.labels_frame()
    labels = labels[labels["id"] == row_id]
    for r in labels.itertuples(index=False):
        if (r.run, int(r.round)) in seen:
            continue
        when = str(getattr(r, "time", "") or "")
        mine.append(event(r.run, r.round, row_id, "commit", "" if r.skipped else r.label,
                          getattr(r, "user", None), when))
    df = frame(mine)
    return df.sort_values(["time", "round"], kind="stable").reset_index(drop=True)


class SessionDecisions:
    """The decision methods of :class:`~explorer.store.Session` (a mixin).

    They use the session's ``experiment``, ``decisions`` (the event list), pending labels,
    directory and writer check; a bound session writes ``decisions.jsonl`` and ``pending.json``
    before they return.
    """

    def decide(self, run_key, row_id, label, author=None) -> dict:
        """Record a person's decision on one row of ``run_key``'s open batch and keep it pending.

        Parameters
        ----------
        run_key : str
        row_id : int
            A row of the batch :meth:`~explorer.experiment.Run.propose` selected.
        label : str or None
            A class name, or None to skip the row.
        author : str, optional
            Who decided (``"unknown"`` when empty).

        Returns
        -------
        dict
            The event (:func:`explorer.decisions.event`); a change of mind is a new event, the
            earlier one stays in the history.
        """
        run, row_id = self._open_row(run_key, row_id)
        classes = self.experiment.dataset.classes
        if label is not None and label not in classes:
            raise SessionError(f"label {label!r} is not a class; use one of "
                               f"{', '.join(classes)} (or None to skip)")
        ev = event(run.key, run.round + 1, row_id, "skip" if label is None else "label",
                   label or "", author)
        pending = {**self._pending.get(run.key, {}), str(row_id): label}
        self._record_decision(ev, run.key, pending)
        return ev

    def undo(self, run_key, row_id, author=None) -> dict:
        """Withdraw the decision on one row of ``run_key``'s open batch (an ``undo`` event; the
        row is open again). Returns the event."""
        run, row_id = self._open_row(run_key, row_id)
        pending = dict(self._pending.get(run.key, {}))
        if str(row_id) not in pending:
            raise SessionError(f"row {row_id} has no decision to undo in run {run.key}'s open "
                               "batch; label it first")
        del pending[str(row_id)]
        ev = event(run.key, run.round + 1, row_id, "undo", "", author)
        self._record_decision(ev, run.key, pending)
        return ev

    def history(self, row_id):
        """Every decision on ``row_id``, oldest first (:func:`explorer.decisions.history`)."""
        return history(self, row_id)

    def _open_row(self, run_key, row_id):
        self._check_writable()
        run = self.experiment.run_by_key(run_key)
        row_id = int(row_id)
        ids = run.propose().ids
        if row_id not in set(ids.tolist()):
            raise SessionError(f"row {row_id} is not in run {run.key}'s open batch (round "
                               f"{run.round + 1}); decide on one of its {len(ids)} rows")
        return run, row_id

    def _record_decision(self, ev, run_key, pending):
        self.decisions.append(ev)
        self._pending[run_key] = pending
        if self.path is not None:
            write_decisions(self.path, self.decisions)
        self._write_pending()

    def _commit_events(self, rec, author):
        """A ``commit`` event per row of a batch a person labelled (``rec``: its RoundResult)."""
        classes = self.experiment.dataset.classes
        self.decisions.extend(
            event(rec.run, rec.round, i, "commit", classes[lab] if lab >= 0 else "", author)
            for i, lab in zip(rec.queried_ids, rec.queried_labels))
