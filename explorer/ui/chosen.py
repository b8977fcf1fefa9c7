"""Act on rows a person chose on the map: label them with one class, open them in the labelling
queue, or fork the run on the map with them as the fork's first labelled batch.

Like :mod:`explorer.ui.branching` (no Panel): each action runs in the state's background job and
goes through the engine's :meth:`~explorer.ui.driver.ExperimentDriver.choose`, so the chosen
rows become one round of a run (``Run.choose`` in the library), saved and replayed with the
session like any other round.
"""

from __future__ import annotations

import numpy as np

from .jobs import bind
from .records import run_label
from .state import ExplorerState

#: the most rows the labelling queue takes at once (label a larger selection with one class)
MAX_QUEUE = 200


def _check(state: ExplorerState, ids, hand=True) -> str | None:
    """Why the action cannot run now (None: it can)."""
    if not len(ids):
        return "Select rows on the map first (box or lasso tool)."
    if state.experiment is None or state.run is None:
        return "Nothing to add the rows to yet: press Step first (it builds the runs)."
    if hand and not state.hand:
        return ("Labelling a selection is for hand-labelling sessions: tick 'Label by hand' "
                "(gold labels are revealed by the simulation otherwise).")
    return None


def _fail(state, why) -> bool:
    state.job.error = why
    return False


def queue_rows(state: ExplorerState, ids, schedule) -> bool:
    """Open the chosen rows in the labelling queue as the next batch of the run on the map."""
    ids = np.asarray(ids, np.int64)
    why = _check(state, ids)
    if why is None and len(ids) > MAX_QUEUE:
        why = (f"{len(ids):,} rows are too many for the queue (at most {MAX_QUEUE}): draw a "
               "smaller region, or label them all with one class")
    if why:
        return _fail(state, why)
    run, engine = state.run, state.experiment

    def work(gen):
        prop = engine.choose(run, ids)
        return bind(state.show_proposal, gen, prop, {},
                    f"Label the {len(prop.queried)} selected rows (round {prop.round} of "
                    f"{run_label(run)}).")

    return state.job.run("Opening the selection in the labelling queue…", work, schedule)


def label_rows(state: ExplorerState, ids, label, schedule) -> bool:
    """Label every chosen row ``label`` as one round of the run on the map (hand labelling);
    the run's next batch is then proposed as usual."""
    ids = np.asarray(ids, np.int64)
    classes = state.prepared.dataset.classes
    why = _check(state, ids)
    if why is None and label not in classes:
        why = f"label {label!r} is not a class; use one of {', '.join(classes)}"
    if why:
        return _fail(state, why)
    run, engine, user = state.run, state.experiment, state.queue.user or "annotator"

    def work(gen):
        prop = engine.choose(run, ids)
        rec = engine.commit(run, [label] * len(prop.queried), user)
        nxt = engine.propose(run)

        def done():
            if not state.job.current(gen):
                return
            state.queue.clear()
            state.record_rounds(gen, [rec])
            state.show_proposal(gen, nxt, {}, f"Round {rec.round}: {len(prop.queried)} selected "
                                "rows labelled " + str(label) + "; next batch selected.")
        return done

    return state.job.run(f"Labelling {len(ids):,} rows {label}…", work, schedule)


def fork_with_rows(state: ExplorerState, ids, schedule) -> bool:
    """Fork the run on the map after the round on the map, and make the chosen rows the fork's
    first own batch: labelled with their gold labels in a simulation, or opened in the
    labelling queue in a hand-labelling session."""
    ids = np.asarray(ids, np.int64)
    why = _check(state, ids, hand=False)
    if why is None and state.hand and len(ids) > MAX_QUEUE:
        why = (f"{len(ids):,} rows are too many to label by hand (at most {MAX_QUEUE}); draw a "
               "smaller region")
    if why:
        return _fail(state, why)
    run, at, engine, hand = state.run, min(state.round, state.rounds_of()), state.experiment, \
        state.hand

    def work(gen):
        key = engine.fork(run, at)
        prop = engine.choose(key, ids)
        if hand:
            history = engine.history(key)

            def done():
                state.add_run(gen, key, history)
                state.show_proposal(gen, prop, {}, f"Forked {run_label(key)}: label the "
                                    f"{len(prop.queried)} selected rows.")
            return done
        engine.step_run(key)  # the chosen rows, with their gold labels, as the fork's round
        return bind(state.add_run, gen, key, engine.history(key))

    return state.job.run(f"Forking {run_label(run)} after round {at} with the selection…", work,
                         schedule)


__all__ = ["queue_rows", "label_rows", "fork_with_rows", "MAX_QUEUE"]
