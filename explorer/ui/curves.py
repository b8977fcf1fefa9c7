"""Live comparison plots: one line per run, streamed round by round, and when to stop.

Every line of a plot is one Bokeh ``MultiLine`` with a row per run (its ``run`` and ``color``
columns), over one source shared by every plot: a new round is one ``patch`` of the runs that
moved (their rows' arrays). Every run's points (a marker per round) are one more source,
streamed (only the new rows travel), shared by one scatter per plot. One renderer per line kind
and plot, not one per run: BokehJS updates every renderer of a changed source (five glyph views
each), and per-run renderers (24 scatters and 35 lines for four runs) cost a Step more of the
browser's time than everything else in the plots (docs/benchmarks.md §5h, §5i).
The minority-share plot also shades what random sampling would give (one band for every run:
they share the initial set and the pool), and a line per run over the plots says whether it
still finds minority rows (:mod:`explorer.stopping`).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import (AllIndices, BasicTicker, CDSView, ColumnDataSource, CustomJSTicker,
                          GridPlot, HoverTool, Legend, LegendItem, Line, MultiLine,
                          NumeralTickFormatter, PrintfTickFormatter, Range1d, Scatter, Span,
                          VArea)
from bokeh.plotting import figure

from ..stopping import BAND, PATIENCE, WINDOW, add_stopping_columns, stopping_summary
from .jobs import locked
from .legend import StandIns
from .records import is_full_pool, run_color, run_label
from .state import ExplorerState

COLUMNS = ["round", "budget", "minority_share", "subpool_minority_share", "pool_minority_share",
           "queried_minority_share", "t_selection", "t_retrieval", "t_scoring", "t_train",
           "t_cumulative", "n_scored", "n_encoded", "encoded", "minority_f1", "macro_f1"]

#: name → (title, x, y, axis options); the figure's ``name`` is what the browser tests look up.
#: Three to a row: what the runs found, then what they cost (time and texts scored side by side)
PLOTS = {
    "minority-share": ("Minority share of the labelled set", "budget", "minority_share",
                       dict(x_axis_label="labelled budget", y_axis_label="minority share")),
    "enrichment": ("Minority share: pool (dotted), subpool (solid), batch (dashed)",
                   "round", "subpool_minority_share",
                   dict(x_axis_label="round", y_axis_label="minority share")),
    "minority-f1": ("Test minority F1 (solid), macro F1 (dashed)", "budget", "minority_f1",
                    dict(x_axis_label="labelled budget", y_axis_label="F1")),
    "selection-time": ("Selection time per round (log)", "round", "t_selection",
                       dict(x_axis_label="round", y_axis_label="seconds", y_axis_type="log")),
    "texts-scored": ("Texts scored per round (log)", "round", "n_scored",
                     dict(x_axis_label="round", y_axis_label="candidates scored",
                          y_axis_type="log")),
    "cumulative-time": ("Cumulative selection + training time", "round", "t_cumulative",
                        dict(x_axis_label="round", y_axis_label="seconds")),
}
#: the lines: (plot, x, y, width, dash, alpha), one ``MultiLine`` renderer each with a row per
#: run. The enrichment plot draws each run's minority share of the unlabelled pool (dotted),
#: its subpool (solid; none for the full pool, whose subpool is the pool) and its queried
#: batch (dashed); the F1 plot minority F1 (solid) and macro F1 (dashed).
LINES = [("minority-share", "budget", "minority_share", 2.0, "solid", 1.0),
         ("enrichment", "round", "pool_minority_share", 1.5, "dotted", 1.0),
         ("enrichment", "round", "subpool_minority_share", 2.0, "solid", 1.0),
         ("enrichment", "round", "queried_minority_share", 1.5, "dashed", 0.8),
         ("minority-f1", "budget", "minority_f1", 2.0, "solid", 1.0),
         ("minority-f1", "budget", "macro_f1", 1.5, "dashed", 0.8),
         ("selection-time", "round", "t_selection", 2.0, "solid", 1.0),
         ("texts-scored", "round", "n_scored", 2.0, "solid", 1.0),
         ("cumulative-time", "round", "t_cumulative", 2.0, "solid", 1.0)]
#: the columns the lines read (a run's whole series each)
LINE_COLUMNS = list(dict.fromkeys(c for _, x, y, *_ in LINES for c in (x, y)))
#: room for the y axis (its label and tick labels, e.g. "0.001", "10,000") whatever the data:
#: a plot whose tick labels grow would otherwise shrink its frame, send the new width back to
#: the server and paint again
MIN_BORDER_LEFT = 72

#: y from 0 (shares, F1) and F1's fixed end; every other end follows the data
Y_FROM_ZERO = {"minority-share", "enrichment", "minority-f1"}
Y_END = {"minority-f1": 1.02}


def padded_range(values, log=False, start=None, end=None, pad=0.05):
    """``(start, end)`` around the finite ``values`` (positive ones on a log axis), ``pad`` of
    the span beyond each end (in decades on a log axis), as Bokeh's ``DataRange1d`` pads; a
    fixed ``start``/``end`` stays. ``None`` when there is nothing to show.

    The comparison plots' ranges are computed here and sent with each round's data, not left
    to BokehJS's auto-ranging: that sends every changed range back to the server (nine
    messages a Step, each answered) and paints every plot a second time.
    """
    v = np.concatenate([np.asarray(a, float).ravel() for a in values]) if values else np.empty(0)
    v = v[np.isfinite(v) & (v > 0)] if log else v[np.isfinite(v)]
    if not v.size:
        return None
    lo, hi = float(v.min()), float(v.max())
    if start is not None:
        lo = min(lo, start)
    if log:
        lo, hi = np.log10(lo), np.log10(hi)
    span = hi - lo
    margin = pad * span if span > 0 else 0.5 * (0.5 if log else max(abs(hi) * 0.1, 1.0))
    lo, hi = lo - margin, hi + margin
    if log:
        lo, hi = 10 ** lo, 10 ** hi
    return (float(start) if start is not None else lo), (float(end) if end is not None else hi)


HOVER = [("run", "@run"), ("round", "@round"), ("budget", "@budget"),
         ("minority share", "@minority_share{0.000}"),
         ("minority share: pool", "@pool_minority_share{0.000}"),
         ("  subpool", "@subpool_minority_share{0.000}"),
         ("  queried batch", "@queried_minority_share{0.000}"),
         ("texts scored", "@n_scored{0,0}"), ("texts encoded", "@n_encoded{0,0} (@encoded)"),
         ("selection (s)", "@t_selection{0.0000}"), ("  retrieval (s)", "@t_retrieval{0.0000}"),
         ("  scoring (s)", "@t_scoring{0.0000}"), ("training (s)", "@t_train{0.0000}"),
         ("minority F1", "@minority_f1{0.000}"), ("macro F1", "@macro_f1{0.000}")]


#: a log axis's ticks at 1, 2 and 5 of each decade (only the decades when that is more than
#: seven labels; a range within one such step shows its two ends), so labels never crowd.
#: Bokeh's LogTicker ticks a range under two decades linearly (0.025, 0.03, 0.035, 0.04...),
#: which a log axis then squeezes into overlapping labels.
LOG_TICKS_JS = """
const lo = Math.min(cb_data.start, cb_data.end), hi = Math.max(cb_data.start, cb_data.end);
if (!(lo > 0) || !isFinite(hi)) return [];
const grid = (mantissas) => {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mantissas) {
      const t = Number((m * Math.pow(10, e)).toPrecision(1));
      if (t >= lo && t <= hi) out.push(t);
    }
  }
  return out;
};
let ticks = grid([1, 2, 5]);
if (ticks.length > 7) {
  const decades = grid([1]), every = Math.ceil(decades.length / 7);
  ticks = decades.filter((_, i) => i % every === 0);
}
if (ticks.length < 2) {  // the ends, at two significant digits, inside the range
  const at = (v, f) => { const p = Math.pow(10, Math.floor(Math.log10(v)) - 1);
                         return Number((f(v / p) * p).toPrecision(2)); };
  ticks = [at(lo, Math.ceil), at(hi, Math.floor)].filter((t) => t >= lo && t <= hi);
  if (ticks.length === 2 && ticks[0] === ticks[1]) ticks.pop();
}
return ticks;
"""


def _axes(fig, x, y, axis) -> None:
    """Whole rounds on a round axis (no 1.5); 1-2-5 ticks on a log axis, plainly labelled."""
    if x == "round":
        fig.xaxis.ticker = BasicTicker(min_interval=1, num_minor_ticks=0)
    if axis.get("y_axis_type") == "log":
        fig.yaxis.ticker = CustomJSTicker(major_code=LOG_TICKS_JS)
        # "0.02", "0.001", "2,000": not Bokeh's "2.000e-2" for every tick of a log axis
        fig.yaxis.formatter = (NumeralTickFormatter(format="0,0") if y == "n_scored" else
                               PrintfTickFormatter(format="%g"))


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
            "pool_minority_share": float(r.pool_minority_share),
            "queried_minority_share": float(r.queried_minority_share),
            "t_selection": max(t_sel, 1e-6),  # log axis
            "t_retrieval": float(r.t_retrieval),
            "t_scoring": float(r.t_scoring),
            "t_train": t_train,
            "t_cumulative": cum,
            # log axis: round 0 scores nothing (NaN leaves it off the line)
            "n_scored": float(r.n_scored) if r.n_scored > 0 else np.nan,
            "n_encoded": int(r.n_encoded),
            "encoded": "by the fine-tuned model" if r.n_encoded_actual else
                       "a fine-tuned encoder would; this head did not",
            "minority_f1": float(r.minority_f1),
            "macro_f1": float(r.macro_f1),
        })
    df = pd.DataFrame(rows, columns=COLUMNS)
    return {c: df[c].to_numpy() for c in COLUMNS}


def records_frame(records) -> pd.DataFrame:
    """A rounds table (round 0 first) of one run's committed records, for
    :func:`~explorer.stopping.add_stopping_columns`.

    The records start at round 1; round 0 (the initial set) is read back from round 1: its
    labelled set before the queries, and the minority the batch added (its
    ``queried_minority_share`` of the rows not skipped).
    """
    rows = [dict(rec.result.metrics(), run=rec.run) for rec in records
            if rec.result is not None and not rec.proposed]
    if not rows:
        return pd.DataFrame()
    first = next(rec for rec in records if rec.result is not None and not rec.proposed)
    r1 = first.result
    n0 = len(first.labelled)
    share = float(r1.queried_minority_share)
    found = 0 if np.isnan(share) else int(round(share * max(r1.n_labelled - n0, 0)))
    zero = {"run": first.run, "round": 0, "n_labelled": n0, "n_minority": r1.n_minority - found,
            "n_queried": 0, "n_unlabelled": 0, "pool_minority_share": np.nan}
    return pd.DataFrame([zero] + rows)


def stopping_frame(history: dict) -> pd.DataFrame:
    """Every run's rounds (``{run: [RoundRecord]}``) with the stopping columns."""
    frames = [records_frame(recs) for recs in history.values()]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    return add_stopping_columns(pd.concat(frames, ignore_index=True))


def stopping_html(frame: pd.DataFrame) -> str:
    """One line per run: minority found lately, or the stopping signal; the estimate of the
    minority left (and the truth, in simulation)."""
    if not len(frame):
        return ""
    lines = []
    for row in stopping_summary(frame, WINDOW, PATIENCE).itertuples(index=False):
        est, true = row.minority_left_estimate, row.minority_left
        left = ""
        if np.isfinite(est):
            left = f" · ≈{est:,.0f} minority left (removal estimate"
            left += f"; true {true:,.0f})" if np.isfinite(true) else ")"
        elif np.isfinite(true):
            left = f" · {true:,.0f} minority left in the pool"
        text = html.escape(row.text)
        style = ("background:#fff3cd;border:1px solid #e0a800;border-radius:3px;padding:0 4px;"
                 "font-weight:bold" if row.stop_signal else "")
        lines.append(
            f'<div class="anchoral-stop-line" data-stop="{str(row.stop_signal).lower()}">'
            f'<span style="color:{run_color(row.run)}">■</span> '
            f"{html.escape(run_label(row.run))}, round {row.round}: "
            f'<span style="{style}">{text}</span>{html.escape(left)}</div>')
    lo, hi = (int(round(100 * q)) for q in BAND)
    return (f'<div style="font-size:12px">{"".join(lines)}<div style="color:#666">Grey band on '
            f"the minority-share plot: what random sampling from the pool would give "
            f"({lo}–{hi} %). Stop signal: no new minority in {PATIENCE} rounds in a row."
            "</div></div>")


def _empty() -> dict:
    return {c: (np.empty(0, object) if c == "encoded" else np.empty(0)) for c in COLUMNS}


def _lines(fig, src, x, y, width=2.0, dash="solid", alpha=1.0):
    """Every run's line of one kind in one plot: a ``MultiLine`` over the shared lines source
    (a row per run), coloured by its ``color`` column; no selection or muted copies of its
    glyph (BokehJS derives them when needed)."""
    src, view = src
    return fig.add_glyph(src, MultiLine(xs=x, ys=y, line_color="color", line_width=width,
                                        line_dash=dash, line_alpha=alpha),
                         name=f"lines:{y}", view=view)


def _points(fig, src, x, y, size=6):
    """Every run's points of one plot: one scatter over the shared points source, coloured by
    its ``color`` column."""
    src, view = src
    return fig.add_glyph(src, Scatter(x=x, y=y, size=size, fill_color="color",
                                      line_color="color"), name="points", view=view)


def _line_rows(rows: dict, key) -> dict:
    """A run's new rows for its lines: the full pool has no subpool line (its subpool is the
    pool), so that series is NaN (drawn nowhere)."""
    out = {c: np.asarray(rows[c], float) for c in LINE_COLUMNS}
    if is_full_pool(key):
        out["subpool_minority_share"] = np.full(len(out["round"]), np.nan)
    return out


def _point_rows(rows: dict, key) -> dict:
    """A run's new rows for the shared points source: its columns plus run, colour, and the
    enrichment plot's y (the subpool's minority share; the pool's for the full pool)."""
    n = len(rows["round"])
    full = is_full_pool(key)
    return {**rows, "run": np.array([run_label(key)] * n, dtype=object),
            "color": np.array([run_color(key)] * n, dtype=object),
            "enrichment_y": rows["pool_minority_share" if full else "subpool_minority_share"]}


class CurvesView(pn.viewable.Viewer):
    """The comparison plots. Rebuilt when the compared runs change; streamed otherwise."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        # one Bokeh grid of the six plots in one pane (one shadow root, no toolbar), not six panes
        self._grid = pn.pane.Bokeh(None, sizing_mode="stretch_width")
        self._stop = pn.pane.HTML("", sizing_mode="stretch_width", margin=(0, 10),
                                  css_classes=["anchoral-stopping"])
        self._band = ColumnDataSource({"budget": [], "lo": [], "hi": []}, name="random-band")
        self._stop_sent = ("", ())  # the stop lines and band last sent to the browser
        self._view = pn.Column(self._stop, self._grid, sizing_mode="stretch_width",
                               css_classes=["anchoral-curves"])
        self._runs: list[str] = []
        self._markers = []
        self._built = False  # the figures are built when first shown (a deferred part of the page)
        self.state.param.watch(self._on_rounds, ["version"])
        self.state.param.watch(self._on_round, ["round", "run"])

    def _rebuild(self, runs):
        self._runs = list(runs)
        every = AllIndices()
        # a row per run: its label, colour, and each line column's whole series
        self._series = {k: {c: np.empty(0) for c in LINE_COLUMNS} for k in self._runs}
        self._lines = ColumnDataSource(
            {"run": [run_label(k) for k in self._runs], "color": [run_color(k) for k in self._runs],
             **{c: [np.empty(0) for _ in self._runs] for c in LINE_COLUMNS}}, name="curve-lines")
        lines = (self._lines, CDSView(filter=every))
        self._points = ColumnDataSource(
            {**_empty(), "run": np.empty(0, object), "color": np.empty(0, object),
             "enrichment_y": np.empty(0)}, name="curve-points")
        points = (self._points, CDSView(filter=every))
        self._sent = {k: 0 for k in self._runs}
        self._cum = {k: 0.0 for k in self._runs}
        self._markers = []
        figs = []
        for name, (title, x, y, axis) in PLOTS.items():
            log = axis.get("y_axis_type") == "log"
            # explicit ranges, set with each round's data (padded_range)
            fig = figure(name=name, title=title, height=250, sizing_mode="stretch_width",
                         min_width=260, toolbar_location=None, tools="",
                         min_border_left=MIN_BORDER_LEFT,
                         x_range=Range1d(0, 1), y_range=Range1d(*((0.1, 10) if log else
                                                                  (0, Y_END.get(name, 1)))),
                         **axis)
            fig.title.text_font_size = "11px"
            _axes(fig, x, y, axis)
            items = []
            # the legend (one, on minority-share) lists stand-ins: a streamed round does not
            # redraw it (explorer/ui/legend.py)
            stand_ins = StandIns(fig, CDSView(filter=every)) if name == "minority-share" else None
            for plot, lx, ly, width, dash, alpha in LINES:
                if plot == name:
                    _lines(fig, lines, lx, ly, width, dash, alpha)
            for k in self._runs if stand_ins is not None else ():
                items.append(LegendItem(label=run_label(k), renderers=[stand_ins.add(
                    Line(x="x", y="y", line_color=run_color(k), line_width=2))]))
            # every run's points, drawn over the lines, with one hover tool
            dots = _points(fig, points, x, "enrichment_y" if name == "enrichment" else y,
                           size=5 if name == "enrichment" else 6)
            fig.add_tools(HoverTool(renderers=[dots], tooltips=HOVER))
            if name == "minority-share":  # one band for every run: same start, same pool
                fig.add_glyph(self._band, VArea(x="budget", y1="lo", y2="hi",
                                                fill_color="#808080", fill_alpha=0.35),
                              level="underlay", name="random sampling", view=CDSView(filter=every))
                items.append(LegendItem(label="random sampling (5–95 %)", renderers=[
                    stand_ins.add(VArea(x="x", y1="y", y2="y", fill_color="#808080",
                                        fill_alpha=0.35))]))
            if name == "minority-share":
                # top left: the curves rise to the right and the band lies along the bottom
                fig.add_layout(Legend(items=items, location="top_left",
                                      background_fill_alpha=0.7, label_text_font_size="11px"))
            marker = Span(location=np.nan, dimension="height", line_color="#888888",
                          line_dash="dotted", line_width=1)
            fig.add_layout(marker)
            self._markers.append((x, marker))
            figs.append(fig)
        self._figures = {f.name: f for f in figs}
        # a GridPlot as is: bokeh.layouts.gridplot walks every model of the figures to merge
        # their tools into a toolbar this grid hides (a third of the curves' build time)
        self._grid.object = GridPlot(children=[(f, i // 3, i % 3) for i, f in enumerate(figs)],
                                     toolbar_location=None, sizing_mode="stretch_width")

    def figures(self) -> dict:
        """The comparison figures by name (built when the view is first shown)."""
        return dict(getattr(self, "_figures", {}))

    def _on_rounds(self, *events):
        st = self.state
        if not self._built:
            return
        if st.runs and list(st.runs) != self._runs:
            self._rebuild(st.runs)
        points, patch = [], {c: [] for c in LINE_COLUMNS}
        for i, k in enumerate(self._runs):
            recs = st.history.get(k, [])
            new = recs[self._sent[k]:]
            if not new:
                continue
            rows = rows_for(new, self._cum[k])
            self._cum[k] = float(rows["t_cumulative"][-1])
            self._sent[k] = len(recs)
            points.append(_point_rows(rows, k))
            series, add = self._series[k], _line_rows(rows, k)
            for c in LINE_COLUMNS:
                series[c] = np.concatenate([series[c], add[c]])
                patch[c].append((i, series[c]))
        if points:
            rows = {c: np.concatenate([p[c] for p in points]) for c in points[0]}
            # one patch of the runs' lines (their rows' whole series), one stream of points
            locked(lambda src=self._lines, patch=patch: src.patch(patch))
            locked(lambda src=self._points, rows=rows: src.stream(rows))
        if not st.history and any(self._sent.values()):  # a reset
            self._rebuild(st.expected_runs())
        self._update_stopping()
        self._update_ranges()
        self._on_round()

    def _update_ranges(self):
        """Every plot's x and y range from the runs' series (and the random band)."""
        series = list(self._series.values())
        changes = []
        for name, (_, x, _, axis) in PLOTS.items():
            ys = [s[y] for plot, _, y, *_ in LINES if plot == name for s in series]
            xs = [s[x] for s in series]
            if name == "minority-share":  # the band starts at the initial set (round 0)
                ys += [np.asarray(self._band.data["hi"], float)]
                xs += [np.asarray(self._band.data["budget"], float)]
            xr = padded_range(xs)
            yr = padded_range(ys, log=axis.get("y_axis_type") == "log",
                              start=0.0 if name in Y_FROM_ZERO else None, end=Y_END.get(name))
            fig = self._figures[name]
            changes += [(fig.x_range, xr), (fig.y_range, yr)]

        def apply():
            for rng, bounds in changes:
                if bounds is not None and (rng.start, rng.end) != bounds:
                    rng.update(start=bounds[0], end=bounds[1])

        locked(apply)

    def _update_stopping(self):
        """The stop lines and the random-sampling band from the runs' rounds."""
        frame = stopping_frame(self.state.history)
        text = stopping_html(frame)
        band = {"budget": [], "lo": [], "hi": []}
        if len(frame) and frame["random_share_lo"].notna().any():
            longest = frame.groupby("run")["round"].transform("max") == frame["round"].max()
            one = frame[longest & (frame["run"] == frame.loc[longest, "run"].iloc[0])]
            one = one.sort_values("round")
            band = {"budget": one["n_labelled"].to_numpy(float),
                    "lo": one["random_share_lo"].to_numpy(float),
                    "hi": one["random_share_hi"].to_numpy(float)}

        # send only what changed: most version bumps (a proposal, a status) change neither,
        # and a ColumnDataSource's data is sent again whenever it is assigned
        key = (text, tuple(np.round(np.r_[band["budget"], band["lo"], band["hi"]], 9)))
        if key == self._stop_sent:
            return
        self._stop_sent = key

        def apply():
            if self._stop.object != text:
                self._stop.object = text
            self._band.data = band

        locked(apply)

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

        locked(move)

    def __panel__(self):
        if not self._built:
            self._built = True
            self._rebuild(self.state.runs or self.state.expected_runs())
            self._on_rounds()  # the rounds recorded before the plots were first shown
        return self._view
