"""Save the explorer's comparison as a session directory, open (resume) one, export it as files.

Functions over an :class:`~explorer.ui.state.ExplorerState` (no Panel); opening runs in the
state's background job. The directory format, its lock, the dataset check and the exports are
the library's (:mod:`explorer.store`, :mod:`explorer.export`): this module only decides what the
page shows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import param

from ..exceptions import ExplorerError, ParameterError, SessionError, SessionLockedError
from ..session_files import interrupted, resolve_session_dir
from ..registry import FILTERS
from ..runs import RunKey
from ..store import check_session, data_spec_of
from .engine import EngineDriver
from .jobs import bind
from .settings_state import SETTINGS
from .state import ExplorerState

#: seconds :func:`open_session` waits for a session's writer lock (a reloaded tab's old page
#: gives it back within seconds)
LOCK_WAIT = 12.0


def data_spec(state: ExplorerState) -> dict:
    """How the state's pool was loaded, as a session stores it (``session.json``'s dataset):
    the pool's own :class:`~explorer.options.PrepareOptions` (``Prepared.options``)."""
    return data_spec_of(state.prepared_for_settings, state.source)


def session_path(state: ExplorerState, path) -> str:
    """The directory a page typed, checked against the server's session root.

    ``state.session_root``: ``None`` (a local server) allows any directory, a path keeps every
    directory under it (symbolic links resolved), ``False`` (a network server started without
    ``--session-root``) lets no page choose one.
    """
    root = getattr(state, "session_root", None)
    if root is False:
        raise SessionError("this server lets no page choose a session directory (it serves a "
                           "network without --session-root); ask whoever started it")
    return str(resolve_session_dir(path, root))


def save_session(state: ExplorerState, path) -> bool:
    """Save the comparison so far as a new session directory; later rounds are saved too."""
    path = str(path or "").strip()
    job = state.job
    if not path:
        job.error = "Give a directory to save the session to."
        return False
    try:
        path = session_path(state, path)
    except ExplorerError as err:
        job.error = str(err)
        return False
    if job.busy:
        job.error = "Work is in progress: wait for it, then save."
        return False
    try:
        with job.lock:
            if state.experiment is None:
                state.build()
            if state.experiment.session_path is not None:
                raise ParameterError(f"this comparison is already saved to "
                                     f"{state.session_dir}; every round is saved there")
            state.experiment.save_as(path, data_spec(state))
    except (ExplorerError, OSError) as err:
        job.error = str(err)
        return False
    state.session_dir = str(path)
    job.error = ""
    job.status = f"Saved as session {path}: every round is saved there from now on."
    return True


def open_session(state: ExplorerState, path, schedule, lock_wait=LOCK_WAIT,
                 typed=True) -> bool:
    """Open (resume) the session in directory ``path`` in a worker thread.

    The session's dataset must be this pool (:func:`explorer.store.check_dataset`); its writer
    lock must be free within ``lock_wait`` seconds, else the page says who holds it. A ``typed``
    path (from the page) must lie under the server's session root (:func:`session_path`); the
    server's own ``--session`` directory is opened with ``typed=False``.
    """
    job = state.job
    path = str(path or "").strip()
    try:
        if not path:
            raise ParameterError("Give the directory of a saved session to open.")
        if typed:
            path = session_path(state, path)
        doc = check_session(path, state.prepared)  # read and checked once, passed down
    except ExplorerError as err:
        job.error = str(err)
        return False
    if job.busy:
        job.error = "Work is in progress: wait for it, then open the session."
        return False
    state.reset()
    with state.quietly():
        stored = doc["dataset"].get("minority") or []
        minority = [m for m in stored if m in state.param.minority.objects]
        if minority:
            state.minority = minority
    prepared = state.prepared_for_settings

    def work(gen):
        def progress(done, total):
            schedule(bind(job.set_progress, gen, done / max(total, 1),
                          f"Replaying the session: {done} of {total} rounds"))

        try:
            driver = EngineDriver.open(path, prepared, progress=progress, wait_s=lock_wait,
                                       manifest=doc)
        except SessionLockedError as err:
            raise SessionLockedError(
                f"session {err.path} is open for writing by another process ({err.holder}), "
                f"still after {lock_wait:.0f} s; close its tab or stop that process, then "
                "press Open session again", path=err.path, holder=err.holder) from None
        history = {k: driver.history(k) for k in driver.runs}
        hand = state.label_by_hand or driver.mode == "annotate" or any(
            r.label_source == "human" for recs in history.values() for r in recs)
        prop = pending = None
        if hand:
            waiting = [k for k in driver.runs if driver.pending(k)]
            run = (waiting or driver.runs)[0]
            try:
                prop, pending = driver.propose(run), driver.pending(run)
            except ExplorerError:
                prop = None
        return bind(_opened, state, gen, driver, history, doc, hand, prop, pending, path)

    return job.run(f"Opening session {path}…", work, schedule)


def _opened(state, gen, driver, history, doc, hand, prop, pending, path):
    """Show the opened session (event loop): its settings, runs, rounds and batch to label."""
    if not state.job.current(gen):
        driver.close()
        return
    stored = doc["settings"]
    roots = [k for k in map(RunKey.parse, driver.runs) if not k.is_fork]
    unshown = []
    with state.quietly(), param.parameterized.batch_call_watchers(state):
        for name in SETTINGS:
            if stored.get(name) is not None or name == "subpool_size":  # None: the default M
                try:
                    setattr(state, name, stored.get(name))
                except ValueError:  # a value the page cannot show; the session keeps it
                    unshown.append(f"{name}={stored.get(name)!r}")
        filters = [k.filter for k in roots if k.filter in FILTERS]
        if filters:
            state.filters = list(dict.fromkeys(filters))
        if roots and roots[0].strategy in state.param.strategy.objects:
            state.strategy = roots[0].strategy
        state.label_by_hand = hand and not state.annotate_data
    state.experiment = driver
    state.adopt(driver, history)
    n = sum(len(v) for v in history.values())
    with param.parameterized.batch_call_watchers(state):
        state.session_dir = str(path)
        state.n_done = max((len(v) for v in history.values()), default=0)
        state.round = state.rounds_of()
        state.version += 1
        state.stale = False
    note = f" (settings the page cannot show: {', '.join(unshown)})" if unshown else ""
    try:
        lost = interrupted(path, state.n_done)
    except ExplorerError as err:  # a damaged note: say so, the session itself is fine
        lost = str(err)
    note += f". Note: {lost}" if lost else ""
    state.job.finish(gen, f"Opened session {path}: {n} recorded run-rounds{note}.", progress=0.0)
    if prop is not None:
        state.show_proposal(gen, prop, pending or {},
                            f"Resumed session {path}: {len(pending or {})} of "
                            f"{len(prop.queried)} labels of round {prop.round} were kept.")


def export_bytes(state: ExplorerState, what, fmt) -> bytes:
    """The labels / rounds table (csv, parquet, jsonl) or the plots (png, html), as bytes.

    Written by :func:`explorer.export.export` from the state's session, saved or in memory.
    """
    with tempfile.TemporaryDirectory(prefix="anchoral-export-") as tmp:
        out = Path(tmp) / f"export.{fmt}"
        with state.job.lock:
            if state.experiment is None:
                raise ParameterError("nothing to export yet: run (or label) a round first")
            state.experiment.export(what, out, fmt)
        return out.read_bytes()
