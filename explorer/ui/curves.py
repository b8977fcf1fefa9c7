"""Live comparison plots: one line per run, streamed round by round (``hv.streams.Buffer``)."""

from __future__ import annotations

import holoviews as hv
from functools import reduce
from operator import mul
import numpy as np
import pandas as pd
import panel as pn
import param

from .state import ExplorerState, run_color, run_label

COLUMNS = ["round", "budget", "minority_share", "subpool_minority_share", "t_selection",
           "t_retrieval", "t_scoring", "t_train", "t_cumulative", "minority_f1", "macro_f1"]

#: (name, title, x, y, extra hover columns, y axis options)
PLOTS = [
    ("minority-share", "Minority share of the labelled set", "budget", "minority_share", [],
     dict(ylabel="minority share", xlabel="labelled budget")),
    ("subpool-share", "Subpool minority share (line: pool prior)", "round",
     "subpool_minority_share", [], dict(ylabel="minority share of subpool", xlabel="round")),
    ("selection-time", "Selection time per round (s, log)", "round", "t_selection",
     ["t_retrieval", "t_scoring", "t_train"], dict(logy=True, ylabel="seconds", xlabel="round")),
    ("cumulative-time", "Cumulative selection + training time (s)", "round", "t_cumulative",
     ["t_retrieval", "t_scoring", "t_train"], dict(ylabel="seconds", xlabel="round")),
    ("minority-f1", "Test minority F1 (solid), macro F1 (dashed)", "budget",
     "minority_f1", [], dict(ylabel="F1", xlabel="labelled budget", ylim=(0, 1.02))),
]


def _empty():
    return pd.DataFrame({c: np.empty(0, np.int64 if c in ("round", "budget") else float)
                         for c in COLUMNS})


def rows_for(records, start_cumulative=0.0):
    """Plot rows (one per record) from :class:`RoundRecord` metrics."""
    rows, cum = [], start_cumulative
    for rec in records:
        m = rec.metrics
        t_sel = float(m.get("t_selection", np.nan))
        t_train = float(m.get("t_train", 0.0) or 0.0)
        cum += (0.0 if np.isnan(t_sel) else t_sel) + t_train
        rows.append({
            "round": int(rec.round),
            "budget": int(m.get("n_labelled", len(rec.labelled) + len(rec.queried))),
            "minority_share": float(m.get("minority_share", np.nan)),
            "subpool_minority_share": float(m.get("subpool_minority_share", np.nan)),
            "t_selection": max(t_sel, 1e-6),
            "t_retrieval": float(m.get("t_retrieval", np.nan)),
            "t_scoring": float(m.get("t_scoring", np.nan)),
            "t_train": t_train,
            "t_cumulative": cum,
            "minority_f1": float(m.get("minority_f1", np.nan)),
            "macro_f1": float(m.get("macro_f1", np.nan)),
        })
    return pd.DataFrame(rows, columns=COLUMNS)


class CurvesView(pn.viewable.Viewer):
    """The comparison plots. Rebuilt when the compared runs change; streamed otherwise."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        self._buffers: dict[str, hv.streams.Buffer] = {}
        self._sent: dict[str, int] = {}
        self._cum: dict[str, float] = {}
        self._runs: list[str] = []
        self._panes = {name: pn.pane.HoloViews(sizing_mode="stretch_width", linked_axes=False)
                       for name, *_ in PLOTS}
        self._round = hv.streams.Params(self.state, ["round"], rename={"round": "round_"})
        self._rebuild()
        self.state.param.watch(self._on_rounds, ["n_done"])

    def _budget_at(self, round_):
        st = self.state
        rec = st.record(st.run, round_) if st.run else None
        if rec is None:
            return np.nan
        return float(rec.metrics.get("n_labelled", len(rec.labelled) + len(rec.queried)))

    def _marker(self, x):
        def cb(round_):
            if round_ < 1:
                return hv.VLine(np.nan)
            return hv.VLine(round_ if x == "round" else self._budget_at(round_))
        return hv.DynamicMap(cb, streams=[self._round]).opts(color="#888888", line_dash="dotted",
                                                              line_width=1)

    def _rebuild(self):
        st = self.state
        self._runs = list(st.runs)
        self._buffers = {k: hv.streams.Buffer(_empty(), length=100_000, index=False)
                         for k in self._runs}
        self._sent = {k: 0 for k in self._runs}
        self._cum = {k: 0.0 for k in self._runs}
        for name, title, x, y, extra, axis in PLOTS:
            layers = []
            for k in self._runs:
                if name == "subpool-share" and k.startswith("full/"):
                    continue  # the full pool's "subpool" is the pool: the prior line stands for it
                layers.extend(self._run_layers(k, name, x, y, extra))
            if name == "subpool-share":
                layers.append(hv.HLine(st.pool_prior, label="pool prior").opts(
                    color=run_color("full/"), line_dash="dashed", line_width=1.5))
            if not layers:
                layers.append(hv.Curve(_empty(), x, y))
            layers.append(self._marker(x))
            overlay = reduce(mul, layers).opts(
                hv.opts.Overlay(title=title, responsive=True, height=250, min_width=250, show_legend=(name == "minority-share"),
                                legend_position="bottom_right", fontsize={"title": 10},
                                toolbar=None, backend_opts={"plot.name": name}, **axis))
            self._panes[name].object = overlay
        self._on_rounds()

    def _run_layers(self, key, name, x, y, extra):
        buf = self._buffers[key]
        color = run_color(key)
        label = run_label(key)
        hover = [(x, f"@{x}"), (y, f"@{y}{{0.0000}}")] + [(c, f"@{c}{{0.0000}}") for c in extra]
        vdims = [y] + extra + (["macro_f1"] if name == "minority-f1" else [])

        def curve(data, y=y):
            return hv.Curve(data, x, [y] + [v for v in vdims if v != y], label=label)

        def points(data, y=y):
            return hv.Scatter(data, x, [y] + [v for v in vdims if v != y], label=label)

        out = [hv.DynamicMap(curve, streams=[buf]).opts(color=color, line_width=2),
               hv.DynamicMap(points, streams=[buf]).opts(color=color, size=5, tools=["hover"],
                                                         hover_tooltips=hover)]
        if name == "minority-f1":
            out.append(hv.DynamicMap(lambda data: hv.Curve(data, x, ["macro_f1"], label=label),
                                     streams=[buf]).opts(color=color, line_dash="dashed",
                                                         line_width=1.5, alpha=0.8))
        return out

    def _on_rounds(self, *events):
        st = self.state
        if list(st.runs) != self._runs:
            self._rebuild()
            return
        for k in self._runs:
            recs = st.history.get(k, [])
            new = recs[self._sent[k]:]
            if not new:
                continue
            rows = rows_for(new, self._cum[k])
            self._cum[k] = float(rows["t_cumulative"].iloc[-1])
            self._sent[k] = len(recs)
            self._buffers[k].send(rows)

    def __panel__(self):
        return pn.GridBox(*self._panes.values(), ncols=3, sizing_mode="stretch_width")
