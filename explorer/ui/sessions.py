"""Save the explorer's comparison as a session directory, open (resume) one, export it as files.

Functions over an :class:`~explorer.ui.state.ExplorerState` (no Panel); opening runs in the
state's background job. The directory format, its lock and the exports belong to the library
(:mod:`explorer.store`).
"""

from __future__ import annotations

import time

import param

from ..exceptions import ExplorerError, ParameterError
from .engine import EXPERIMENT_ARGS
from .jobs import bind
from .records import FILTERS, STRATEGIES
from .state import ExplorerState

#: seconds :func:`open_session` waits for a session's writer lock held by another page
LOCK_WAIT = 12.0


def data_spec(state: ExplorerState) -> dict:
    """How the state's pool was loaded, as a session stores it (``session.json``'s dataset)."""
    from ..store import data_spec_of

    opts = state.load_options
    spec = data_spec_of(state.prepared_for_settings, state.source,
                        opts.get("text_col", "text"), opts.get("label_col", "label"),
                        opts.get("embeddings"), opts.get("index", "auto"))
    if str(state.source).startswith("synthetic:"):
        spec["source"] = state.source
    return spec


def save_session(state: ExplorerState, path) -> bool:
    """Save the comparison so far as a new session directory; later rounds are saved too."""
    path = str(path or "").strip()
    job = state.job
    if not path:
        job.error = "Give a directory to save the session to."
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


def open_session(state: ExplorerState, path, schedule, lock_wait=LOCK_WAIT) -> bool:
    """Open (resume) the session in directory ``path`` in a worker thread.

    The session's dataset must be this pool; its writer lock must be free within
    ``lock_wait`` seconds (else the store's :class:`~explorer.exceptions.SessionError` is shown).
    """
    from ..store import read_manifest

    job = state.job
    path = str(path or "").strip()
    try:
        if not path:
            raise ParameterError("Give the directory of a saved session to open.")
        doc = read_manifest(path)
        spec = doc["dataset"]
        if spec.get("content_hash") != state.prepared.dataset.content_hash:
            raise ParameterError(
                f"session {path} was made on dataset {spec.get('source')!r} "
                f"({spec.get('name')}), not on {state.source!r}; serve that dataset to open "
                f"it (anchoral serve {spec.get('source')} --session {path})")
    except ExplorerError as err:
        job.error = str(err)
        return False
    if job.busy:
        job.error = "Work is in progress: wait for it, then open the session."
        return False
    state.reset()
    with state.quietly():
        minority = [m for m in spec.get("minority") or [] if m in state.param.minority.objects]
        if minority:
            state.minority = minority
    prepared = state.prepared_for_settings

    def work(gen):
        from ..exceptions import SessionError
        from .engine import EngineDriver

        def progress(done, total):
            schedule(bind(job.set_progress, gen, done / max(total, 1),
                          f"Replaying the session: {done} of {total} rounds"))

        t0 = time.perf_counter()
        while True:  # a reloaded tab's old page gives the lock back within seconds
            try:
                driver = EngineDriver.open(path, prepared, progress=progress)
                break
            except SessionError as err:
                if "open for writing" not in str(err) or time.perf_counter() - t0 > lock_wait:
                    raise
                schedule(bind(job.set_progress, gen, 0.0,
                              "Waiting for the session's writer lock (open in another "
                              "tab or process?)…"))
                time.sleep(1.0)
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
    if not state.job.current(gen):
        driver.close()
        return
    st = doc["settings"]
    roots = [r for r in doc["runs"] if not r.get("parent")]
    with state.quietly(), param.parameterized.batch_call_watchers(state):
        for name in EXPERIMENT_ARGS:
            if st.get(name) is not None or name == "subpool_size":
                try:
                    setattr(state, name, st.get(name))
                except ValueError:
                    pass
        filters = [r["filter"] for r in roots if r["filter"] in FILTERS]
        if filters:
            state.filters = list(dict.fromkeys(filters))
        if roots and roots[0]["strategy"] in STRATEGIES:
            state.strategy = roots[0]["strategy"]
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
    state.job.finish(gen, f"Opened session {path}: {n} recorded run-rounds.", progress=0.0)
    if prop is not None:
        state.show_proposal(gen, prop, pending or {},
                            f"Resumed session {path}: {len(pending or {})} of "
                            f"{len(prop.queried)} labels of round {prop.round} were kept.")


def export_bytes(state: ExplorerState, what, fmt) -> bytes:
    """The labels / rounds table (csv, parquet, jsonl) or the plots (png, html), as bytes.

    Written by :func:`explorer.commands.export.export` from the session directory (a
    temporary snapshot when the comparison is not saved as a session).
    """
    import tempfile
    from pathlib import Path

    from ..commands.export import export

    with tempfile.TemporaryDirectory(prefix="anchoral-export-") as tmp:
        tmp = Path(tmp)
        sdir = state.session_dir
        with state.job.lock:
            if state.experiment is None:
                raise ParameterError("nothing to export yet: run (or label) a round first")
            if not sdir:
                sdir = state.experiment.snapshot(tmp / "session", data_spec(state))
        out = tmp / f"export.{fmt}"
        if what == "plots":
            import pandas as pd

            from ..plots import comparison_figure

            rounds = pd.read_parquet(Path(sdir) / "rounds.parquet")
            if "run" in rounds.columns:  # one line per run, forks included
                rounds = rounds.assign(branch=rounds["run"])
            comparison_figure(rounds, out, fmt, title=state.prepared.dataset.name)
        else:
            export(sdir, what, out, fmt)
        return out.read_bytes()
