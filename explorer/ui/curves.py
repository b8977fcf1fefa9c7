"""Live comparison plots: one line per run, streamed round by round.

Each run owns one Bokeh ``ColumnDataSource`` shared by every plot; a new round is a single
``source.stream(rows)`` per run (only the new rows travel to the browser), never a redraw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool, Legend, LegendItem, Span
from bokeh.plotting import figure

from .records import filter_color, is_full_pool, run_color, run_label
from .state import ExplorerState

COLUMNS = ["round", "budget", "minority_share", "subpool_minority_share", "t_selection",
           "t_retrieval", "t_scoring", "t_train", "t_cumulative", "minority_f1", "macro_f1"]

#: name → (title, x, y, axis options); the figure's ``name`` is what the browser tests look up
PLOTS = {
    "minority-share": ("Minority share of the labelled set", "budget", "minority_share",
                       dict(x_axis_label="labelled budget", y_axis_label="minority share")),
    "subpool-share": ("Subpool minority share (dashed: pool prior)", "round",
                      "subpool_minority_share",
                      dict(x_axis_label="round", y_axis_label="minority share of the subpool")),
    "selection-time": ("Selection time per round (log)", "round", "t_selection",
                       dict(x_axis_label="round", y_axis_label="seconds", y_axis_type="log")),
    "cumulative-time": ("Cumulative selection + training time", "round", "t_cumulative",
                        dict(x_axis_label="round", y_axis_label="seconds")),
    "minority-f1": ("Test minority F1 (solid), macro F1 (dashed)", "budget", "minority_f1",
                    dict(x_axis_label="labelled budget", y_axis_label="F1")),
}
HOVER = [("run", "$name"), ("round", "@round"), ("budget", "@budget"),
         ("minority share", "@minority_share{0.000}"),
         ("subpool minority share", "@subpool_minority_share{0.000}"),
         ("selection (s)", "@t_selection{0.0000}"), ("  retrieval (s)", "@t_retrieval{0.0000}"),
         ("  scoring (s)", "@t_scoring{0.0000}"), ("training (s)", "@t_train{0.0000}"),
         ("minority F1", "@minority_f1{0.000}"), ("macro F1", "@macro_f1{0.000}")]


def rows_for(records, start_cumulative=0.0) -> dict:
    """Plot columns (one row per record) from each record's :class:`~explorer.runs.RoundResult`."""
    rows, cum = [], start_cumulative
    for rec in records:
        r = rec.result
        t_sel = float(r.t_selection)
        t_train = 0.0 if np.isnan(r.t_train) else float(r.t_train)
        cum += (0.0 if np.isnan(t_sel) else t_sel) + t_train
        rows.append({
            "round": int(rec.round),
            "budget": int(r.n_labelled),
            "minority_share": float(r.minority_share),
            "subpool_minority_share": float(r.subpool_minority_share),
            "t_selection": max(t_sel, 1e-6),  # log axis
            "t_retrieval": float(r.t_retrieval),
            "t_scoring": float(r.t_scoring),
            "t_train": t_train,
            "t_cumulative": cum,
            "minority_f1": float(r.minority_f1),
            "macro_f1": float(r.macro_f1),
        })
    df = pd.DataFrame(rows, columns=COLUMNS)
    return {c: df[c].to_numpy() for c in COLUMNS}


def _empty() -> dict:
    return {c: np.empty(0) for c in COLUMNS}


def _locked(change):
    """Apply a change to raw Bokeh models under the document lock.

    Widget callbacks may run while Panel has released the lock; changing a Bokeh model there
    fails, so the change goes to the next tick, which holds it. Without a server: now.
    """
    doc = pn.state.curdoc
    if doc is not None and doc.session_context is not None:
        doc.add_next_tick_callback(change)
    else:
        change()


class CurvesView(pn.viewable.Viewer):
    """The comparison plots. Rebuilt when the compared runs change; streamed otherwise."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        self._grid = pn.GridBox(ncols=3, sizing_mode="stretch_width")
        self._runs: list[str] = []
        self._rebuild(self.state.expected_runs())
        self.state.param.watch(self._on_rounds, ["version"])
        self.state.param.watch(self._on_round, ["round", "run"])

    def _rebuild(self, runs):
        st = self.state
        self._runs = list(runs)
        self._sources = {k: ColumnDataSource(_empty(), name=f"curve:{k}") for k in self._runs}
        self._sent = {k: 0 for k in self._runs}
        self._cum = {k: 0.0 for k in self._runs}
        self._markers = []
        figs = []
        for name, (title, x, y, axis) in PLOTS.items():
            fig = figure(name=name, title=title, height=250, sizing_mode="stretch_width",
                         min_width=260, toolbar_location=None, tools="", **axis)
            fig.title.text_font_size = "11px"
            items = []
            for k in self._runs:
                if name == "subpool-share" and is_full_pool(k):
                    continue  # the full pool's "subpool" is the pool: the prior line stands for it
                src, color, label = self._sources[k], run_color(k), run_label(k)
                line = fig.line(x, y, source=src, color=color, line_width=2, name=label)
                dots = fig.scatter(x, y, source=src, color=color, size=6, name=label)
                glyphs = [line, dots]
                if name == "minority-f1":
                    glyphs.append(fig.line(x, "macro_f1", source=src, color=color,
                                           line_dash="dashed", line_width=1.5, alpha=0.8,
                                           name=label))
                items.append(LegendItem(label=label, renderers=glyphs))
                fig.add_tools(HoverTool(renderers=[dots], tooltips=HOVER))
            if name == "subpool-share":
                fig.add_layout(Span(location=st.pool_prior, dimension="width",
                                    line_color=filter_color("full"), line_dash="dashed",
                                    line_width=1.5))
                fig.y_range.start = 0
            if name in ("minority-share", "minority-f1"):
                fig.y_range.start = 0
            if name == "minority-f1":
                fig.y_range.end = 1.02
            if name == "minority-share":
                fig.add_layout(Legend(items=items, location="bottom_right",
                                      background_fill_alpha=0.7, label_text_font_size="11px"))
            marker = Span(location=np.nan, dimension="height", line_color="#888888",
                          line_dash="dotted", line_width=1)
            fig.add_layout(marker)
            self._markers.append((x, marker))
            figs.append(pn.pane.Bokeh(fig, sizing_mode="stretch_width"))
        self._grid[:] = figs

    def _on_rounds(self, *events):
        st = self.state
        if st.runs and list(st.runs) != self._runs:
            self._rebuild(st.runs)
        for k in self._runs:
            recs = st.history.get(k, [])
            new = recs[self._sent[k]:]
            if not new:
                continue
            rows = rows_for(new, self._cum[k])
            self._cum[k] = float(rows["t_cumulative"][-1])
            self._sent[k] = len(recs)
            _locked(lambda src=self._sources[k], rows=rows: src.stream(rows))
        if not st.history and any(self._sent.values()):  # a reset
            self._rebuild(st.expected_runs())
        self._on_round()

    def _on_round(self, *events):
        rec = self.state.record()
        if rec is not None and rec.proposed:
            rec = self.state.record(round=rec.round - 1)
        locations = [np.nan if rec is None else
                     float(rec.round if x == "round" else rec.result.n_labelled)
                     for x, _ in self._markers]
        markers = [m for _, m in self._markers]

        def move():
            for marker, loc in zip(markers, locations):
                marker.location = loc

        _locked(move)

    def __panel__(self):
        return self._grid
