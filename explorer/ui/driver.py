"""The contract between the explorer's state and an engine: :class:`ExperimentDriver`.

:class:`~explorer.ui.engine.EngineDriver` implements it over :class:`explorer.experiment.Experiment`;
the tests' stand-in engine (``tests/ui/fakes.py``) implements it too. Every member is required:
an engine that cannot do something (fork, preview, save) raises an
:class:`~explorer.exceptions.ExplorerError` that says so, and the state shows it like any error.

Which thread calls what: the state calls the *writing* members (``step_run``, ``propose``,
``commit``, ``fork``, ``preview``, ``start``) from its worker thread while it holds the job's
lock, calls ``save_as`` and ``export`` on the event loop holding that lock, and reads ``runs``,
``initial_ids``, ``mode``, ``pool_minority_share`` and ``session_path`` on the event loop.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from .records import RoundRecord


@runtime_checkable
class ExperimentDriver(Protocol):
    """What :class:`~explorer.ui.state.ExplorerState` needs from an engine.

    A driver is built by ``factory(prepared, filters=..., strategy=..., **settings)`` (the
    state's settings) and drives its runs one round at a time, returning copies
    (:class:`~explorer.ui.records.RoundRecord`) that views may keep.
    """

    #: run keys in display order (``"anchoral/entropy"``; forks appended)
    runs: list
    #: global ids of the initial labelled set (shared by every run)
    initial_ids: np.ndarray
    #: ``"simulate"`` (gold labels revealed) or ``"annotate"`` (a person labels every batch)
    mode: str
    #: share of minority rows in the training pool
    pool_minority_share: float

    @property
    def session_path(self) -> str | None:
        """The session directory every round is saved to; None while the comparison is unsaved."""

    def start(self) -> None:
        """Train every run on the initial set (idempotent)."""

    def model(self, key: str):
        """The current model of run ``key`` (``predict_proba(ids)``), or None before round 0."""

    def history(self, key: str) -> list[RoundRecord]:
        """Every recorded round of run ``key``, oldest first."""

    def step_run(self, key: str) -> RoundRecord:
        """One simulated round of run ``key``: select, reveal gold labels, retrain, evaluate."""

    def propose(self, key: str) -> RoundRecord:
        """The next batch of run ``key`` (selected, not labelled: ``proposed=True``)."""

    def pending(self, key: str) -> dict:
        """Labels given so far to run ``key``'s proposed batch: {id: class name or None}."""

    def save_pending(self, key: str, labels: dict) -> None:
        """Keep the labels given so far to run ``key``'s proposed batch (a reload keeps them)."""

    def choose(self, key: str, ids) -> RoundRecord:
        """Make rows a person chose (a map selection) run ``key``'s next batch, in place of its
        filter's (``proposed=True``); :meth:`commit` (or :meth:`step_run`) labels them."""

    def decide(self, key: str, row_id: int, label, author: str) -> None:
        """Record ``author``'s decision (a class name; None = skip) on one row of run ``key``'s
        proposed batch, with the time, and keep it pending (a change is a new decision)."""

    def undo(self, key: str, row_id: int, author: str) -> None:
        """Withdraw the decision on one row of run ``key``'s proposed batch (recorded too)."""

    def decisions(self, row_id: int):
        """Every decision on ``row_id``, oldest first: a frame with
        :data:`explorer.decisions.DECISION_COLUMNS`."""

    def commit(self, key: str, labels: list, user: str) -> RoundRecord:
        """A person's labels (class names, None = skip) for run ``key``'s proposed batch."""

    def filter_params(self) -> dict:
        """The filter parameters of the experiment (``n_anchors``, ``n_neighbors``, ...)."""

    def fork(self, key: str, at_round: int, strategy: str | None = None, **params) -> str:
        """Branch run ``key`` after ``at_round`` with other settings; returns the new run's key."""

    def preview(self, key: str, strategy: str | None = None, **params):
        """``(selection, class_mix)`` of run ``key``'s next round with other settings; no change."""

    def save_as(self, path: str, data_spec: dict) -> None:
        """Save the comparison so far as a session in ``path``; later rounds are saved too."""

    def export(self, what: str, out, fmt: str):
        """Write ``what`` (labels, rounds, queries, plots) of the comparison so far to the file
        ``out`` in format ``fmt`` (:func:`explorer.export.export`); saved or not."""

    def close(self) -> None:
        """Release the session directory (its writer lock), if any."""
