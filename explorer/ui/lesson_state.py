"""What the cost-lesson views show, computed from an :class:`ExplorerState` (no Panel).

* :func:`summary_line` — one sentence on what the runs show (:func:`explorer.cost.explain_rounds`);
* :func:`projection` — the per-round encoder cost at this pool size and at 100k / 1M / 10M rows;
* :class:`TwoRunsState` — two runs and a round, and the rows they queried (both / only A / only B).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import param

from ..compare import RunComparison, compare_runs
from ..cost import encoder_cost, explain_projection, explain_rounds, project_cost
from ..runs import RunKey


def summary_line(state) -> str:
    """One sentence on what the recorded runs show (empty before the first round)."""
    if not state.history:
        return ""
    try:
        return explain_rounds(state.rounds_frame())
    except (KeyError, ValueError):  # a stub engine without the cost columns
        return ""


def projection(state):
    """``(table, sentence)``: :func:`explorer.cost.project_cost` for the state's pool and
    AnchorAL settings, and :func:`explorer.cost.explain_projection` naming the measurement."""
    ds = state.prepared.dataset
    n_unlabelled = None
    for recs in state.history.values():
        if recs and recs[-1].result is not None:
            n_unlabelled = int(recs[-1].result.n_unlabelled) or None
            break
    cost = encoder_cost()
    n_anchors, n_neighbors = int(state.n_anchors or 10), int(state.n_neighbors or 50)
    table = project_cost(int(ds.n), ds.n_classes, n_unlabelled=n_unlabelled,
                         n_anchors=n_anchors, n_neighbors=n_neighbors,
                         subpool_size=state.subpool_size, n_labelled=int(state.init_size or 0),
                         test_fraction=0.0 if state.annotate_data else 0.2, cost=cost)
    return table, explain_projection(table, ds.n_classes, n_anchors, n_neighbors, cost=cost)


def projection_rows(table) -> pd.DataFrame:
    """The projection as the app shows it: pool, texts encoded and time per round, ratio."""
    return pd.DataFrame({
        "pool rows": [f"{int(p):,}" + (" (this pool)" if this else "")
                      for p, this in zip(table["pool"], table["this_pool"])],
        "full pool: texts / round": [f"{int(v):,}" for v in table["full_texts"]],
        "full pool: CPU / round": table["full_time"],
        "AnchorAL: texts / round": [f"≤ {int(v):,}" for v in table["anchoral_texts"]],
        "AnchorAL: CPU / round": table["anchoral_time"],
        "ratio": [f"{r:,.0f}x" if r >= 10 else f"{r:.1f}x" for r in table["ratio"]],
    })


class TwoRunsState(param.Parameterized):
    """Two runs of a session and a round: which rows each queried up to that round.

    ``sync()`` follows the session's runs (defaults: the first AnchorAL run against the first
    full-pool run, the last round both completed); ``comparison()`` is
    :func:`explorer.compare.compare_runs` over the recorded rounds.
    """

    run_a = param.Selector(default=None, objects=[], allow_None=True, doc="The first run (A).")
    run_b = param.Selector(default=None, objects=[], allow_None=True, doc="The second run (B).")
    round = param.Integer(default=0, bounds=(0, None), doc="Last round compared (0: none yet).")
    cumulative = param.Boolean(default=True, doc="Every round up to `round` (else that one).")
    synced = param.Integer(default=0, doc="How many times :meth:`sync` followed the session "
                                          "(views that show the comparison watch it).")

    def __init__(self, state, **params):
        super().__init__(**params)
        self.state = state
        self.choices: list[str] = []  # runs with at least one recorded round
        self._last = 0
        self._cached = None  # (key, comparison) of the last comparison() asked for
        self.sync()

    def last_common_round(self) -> int:
        st = self.state
        if self.run_a is None or self.run_b is None:
            return 0
        return min(len(st.history.get(self.run_a, [])), len(st.history.get(self.run_b, [])))

    def sync(self) -> None:
        """Follow the session's runs and rounds (after a round, a fork or a reset)."""
        runs = [k for k in self.state.runs if self.state.history.get(k)]
        self.choices = list(runs)
        at_end = self.round == 0 or self.round >= self._last  # follow the newest round
        self.param.run_a.objects = list(runs)  # (param appends None to the list it is given)
        self.param.run_b.objects = list(runs)
        with param.parameterized.discard_events(self):
            if self.run_a not in runs:
                self.run_a = _first(runs, "anchoral") or (runs[0] if runs else None)
            if self.run_b not in runs or self.run_b == self.run_a:
                others = [k for k in runs if k != self.run_a]
                self.run_b = _first(others, "full") or (others[0] if others else None)
        last = self._last = self.last_common_round()
        self.round = last if at_end else min(self.round, last)
        self.synced += 1

    def rounds_table(self) -> pd.DataFrame:
        """The two runs' rounds: run, round, queried_ids, queried_labels."""
        rows = []
        for key in (self.run_a, self.run_b):
            for rec in self.state.history.get(key, []):
                labels = rec.labels if rec.labels is not None else np.full(len(rec.queried), -1)
                rows.append({"run": key, "round": int(rec.round),
                             "queried_ids": np.asarray(rec.queried, np.int64),
                             "queried_labels": np.asarray(labels, np.int64)})
        return pd.DataFrame(rows, columns=["run", "round", "queried_ids", "queried_labels"])

    def comparison(self) -> RunComparison | None:
        """The comparison at :attr:`round`, or None until both runs have a round.

        Computed once per choice and recorded state (the map, the counts, the caption and the
        download of a Step all ask for it: six times per Step before, most of the server's
        share of a Step while the view was open)."""
        if self.run_a is None or self.run_b is None or self.run_a == self.run_b or \
                self.round < 1 or self.round > self.last_common_round():
            return None
        key = (self.run_a, self.run_b, self.round, self.cumulative, self.state.version,
               len(self.state.history.get(self.run_a, ())),
               len(self.state.history.get(self.run_b, ())))
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, compare_runs(
                self.rounds_table(), self.run_a, self.run_b, self.round,
                classes=self.state.prepared.dataset.classes, cumulative=self.cumulative))
        return self._cached[1]

    def export_frame(self) -> pd.DataFrame:
        """One row per id queried by either run (with run keys and text) for the download."""
        cmp = self.comparison()
        if cmp is None:
            return pd.DataFrame(columns=["id", "group", "run_a", "run_b", "label", "round_a",
                                         "round_b", "text"])
        df = cmp.points.copy()
        df.insert(2, "run_a", cmp.run_a)
        df.insert(3, "run_b", cmp.run_b)
        df["text"] = [str(t) for t in self.state.prepared.dataset.texts[df["id"].to_numpy()]]
        return df


def _first(keys, filter_name):
    return next((k for k in keys if RunKey.parse(k).filter == filter_name
                 and not RunKey.parse(k).is_fork), None)


__all__ = ["summary_line", "projection", "projection_rows", "TwoRunsState"]
