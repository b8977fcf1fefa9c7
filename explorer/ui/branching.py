"""Fork the run on the map from the round on the map, or preview its next round, with other settings.

Both run in the state's background job (no Panel): a preview changes nothing and is shown as
:attr:`ExplorerState.preview`; a fork adds a run to the comparison.
"""

from __future__ import annotations

import time

from ..runs import RunKey
from .jobs import bind
from .records import Preview, ids_of, run_label
from .state import ExplorerState


def fork(state: ExplorerState, schedule, strategy=None, **params) -> bool:
    """Branch the run on the map after the round on the map, with other settings."""
    run, at = state.run, min(state.round, state.rounds_of())
    if state.experiment is None or run is None:
        state.job.error = "Nothing to fork yet: run (or label) a round first."
        return False
    current = state.experiment.filter_params()
    changed = {k: v for k, v in params.items()
               if v is not None and k in current and current[k] != v}
    strategy = strategy if strategy and strategy != RunKey.parse(run).strategy else None
    engine = state.experiment

    def work(gen):
        key = engine.fork(run, at, strategy=strategy, **changed)
        return bind(state.add_run, gen, key, engine.history(key))

    return state.job.run(f"Forking {run_label(run)} after round {at}…", work, schedule)


def preview_next(state: ExplorerState, schedule, strategy=None, **params) -> bool:
    """What the next round of the run on the map would retrieve with ``params``; no change."""
    run = state.run
    if state.experiment is None or run is None:
        state.job.error = "Nothing to preview yet: press Step first."
        return False
    params = {k: v for k, v in params.items() if v is not None}
    engine = state.experiment

    def work(gen):
        t0 = time.perf_counter()
        sel, mix = engine.preview(run, strategy, **params)
        info = Preview(run=run, round=state.rounds_of(run) + 1, subpool=ids_of(sel.subpool),
                       anchors=ids_of(sel.anchors), queried=ids_of(sel.ids), mix=dict(mix),
                       by="predicted" if engine.mode == "annotate" else "gold",
                       seconds=time.perf_counter() - t0)

        def done():
            if state.job.current(gen):
                state.preview = info
                state.job.finish(gen, f"Preview of round {info.round}: subpool "
                                      f"{len(info.subpool):,} rows (nothing changed).")
        return done

    return state.job.run("Previewing the next round…", work, schedule)
