"""The cost lesson in the page: a one-sentence summary, the projection panel, two runs on one map.

All three read the session through :mod:`explorer.ui.lesson_state`; the two-run map reuses the
explorer map's datashaded pool and draws the rows queried by both runs, by only the first and
by only the second as three small overlays.
"""

from __future__ import annotations

import html
import io

import numpy as np
import pandas as pd
import panel as pn
import param

from .lesson_state import TwoRunsState, projection, projection_rows, summary_line
from .map import MapView
from .jobs import locked
from .records import run_label
from .state import ExplorerState

#: the three groups of a two-run comparison: legend label and glyph style
GROUP_STYLE = {
    "both": ("Queried by both", dict(marker="circle", size=9, color="#111111",
                                     line_color="white", line_width=1.0)),
    "only A": ("Only by A", dict(marker="triangle", size=11, color="#c51b7d",
                                 line_color="white", line_width=1.0)),
    "only B": ("Only by B", dict(marker="inverted_triangle", size=11, color="#2166ac",
                                 line_color="white", line_width=1.0)),
}


class SummaryLine(pn.viewable.Viewer):
    """One sentence under the plots: what the runs show (escaped, updated every round)."""

    state = param.ClassSelector(class_=ExplorerState)

    def __panel__(self):
        st = self.state

        def text(*_):
            line = summary_line(st)
            if not line:
                return ('<div style="font-size:13px;color:#666">After the first round, one '
                        "sentence here says what the runs show.</div>")
            return (f'<div class="anchoral-summary" style="font-size:14px">'
                    f"<b>What this shows:</b> {html.escape(line)}</div>")

        return pn.pane.HTML(pn.bind(text, st.param.version), sizing_mode="stretch_width",
                            margin=(0, 10))


class ProjectionView(pn.viewable.Viewer):
    """Per-round cost of full pool vs AnchorAL with a fine-tuned encoder at this size, 100k, 1M
    and 10M rows: a projection from the measured per-text cost, and said to be one."""

    state = param.ClassSelector(class_=ExplorerState)

    def __panel__(self):
        st = self.state

        def table(*_):
            t, _ = projection(st)
            return projection_rows(t)

        def caption(*_):
            _, sentence = projection(st)
            return f'<div style="font-size:12px">{html.escape(sentence)}</div>'

        deps = (st.param.version, st.param.n_anchors, st.param.n_neighbors,
                st.param.subpool_size)
        return pn.Column(
            pn.pane.DataFrame(pn.bind(table, *deps), index=False, escape=True,
                              sizing_mode="stretch_width", css_classes=["anchoral-projection"]),
            pn.pane.HTML(pn.bind(caption, *deps), sizing_mode="stretch_width", margin=(0, 10)),
            sizing_mode="stretch_width")


class TwoRunsMap(MapView):
    """The pool map with the rows two runs queried: by both, only by A, only by B."""

    two = param.ClassSelector(class_=TwoRunsState)
    figure_name = param.String(default="anchoral-two-runs")

    def build_layers(self):
        for group, (label, style) in GROUP_STYLE.items():
            self.add_layer(group, label, style, hover=[("id", "@id"), ("text", "@text"),
                                                       ("gold", "@label")])

    def watch_state(self):
        # ``synced``, not the session's version: the view follows rounds only while its tab shows
        self.two.param.watch(self._changed, ["run_a", "run_b", "round", "cumulative", "synced"])

    def layer_data(self) -> dict:
        cmp = self.two.comparison()
        out = {}
        for group, (label, _) in GROUP_STYLE.items():
            ids = np.empty(0, np.int64) if cmp is None else \
                cmp.points.loc[cmp.points["group"] == group, "id"].to_numpy(np.int64)
            out[group] = (self._frame(ids), label)
        return out

    def _update(self, now=False):
        data = self.layer_data()

        def apply():
            for name, (rows, label) in data.items():
                self.set_layer(name, rows, label)

        apply() if now else locked(apply)

    def __panel__(self):
        return self._pane


class TwoRunsView(pn.viewable.Viewer):
    """Pick two runs and a round; see what each queried on the map, counts per class, download."""

    state = param.ClassSelector(class_=ExplorerState)
    live = param.Boolean(default=True, doc=(
        "The view follows the session's rounds. Its tab sets it off while hidden: a hidden "
        "tab's panes still re-rendered at every Step, and the detached DataFrame pane rewrote "
        "the page's shared stylesheet URLs, which made the browser re-read every stylesheet "
        "of the page (~0.1 s of browser CPU per Step)."))

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        self.two = TwoRunsState(st)
        w = pn.widgets
        self.run_a = w.Select(name="Run A", width=260)
        self.run_b = w.Select(name="Run B", width=260)
        self.round = w.IntSlider(name="Up to round", start=0, end=1, value=0, width=260,
                                 disabled=True)
        self.cumulative = w.Checkbox.from_param(self.two.param.cumulative,
                                                name="Every round up to it")
        self.download = w.FileDownload(callback=self._csv, filename="two-runs.csv",
                                       label="Download the comparison (CSV)",
                                       button_type="default", width=260)
        self.map = None  # built when its tab first opens (a second figure of the pool)
        self.run_a.param.watch(lambda e: self._set("run_a", e.new), "value")
        self.run_b.param.watch(lambda e: self._set("run_b", e.new), "value")
        self.round.param.watch(lambda e: self._set("round", e.new), "value")
        st.param.watch(self._follow, ["version"])
        self.param.watch(self._follow, ["live"])
        self._sync()

    def _follow(self, *events):
        """A round while shown, or shown again after hiding: follow the session."""
        if self.live:
            self._sync()

    def _set(self, name, value):
        if value is not None and getattr(self.two, name) != value:
            setattr(self.two, name, value)

    def _sync(self, *events):
        self.two.sync()
        options = {run_label(k): k for k in self.two.choices}
        for widget, value in ((self.run_a, self.two.run_a), (self.run_b, self.two.run_b)):
            if widget.options != options:
                widget.options = options
            widget.value = value
        last = self.two.last_common_round()
        self.round.disabled = last < 1
        self.round.end = max(last, 1)  # start 0: Bokeh wants start < end before any round
        self.round.value = self.two.round

    def _csv(self):
        from ..export import to_csv

        buf = io.StringIO()
        to_csv(self.two.export_frame(), buf)
        buf.seek(0)
        return buf

    def _counts(self, *_):
        cmp = self.two.comparison()
        if cmp is None:
            return pd.DataFrame({"class": [], "both": [], "only A": [], "only B": []})
        return cmp.counts.reset_index()

    def _caption(self, *_):
        two = self.two
        cmp = two.comparison()
        if cmp is None:
            return ('<div style="font-size:12px;color:#666">Two runs on one map: after a round '
                    "of two or more runs, the rows each queried appear here.</div>")
        scope = f"rounds 1–{cmp.round}" if two.cumulative else f"round {cmp.round}"
        return (f'<div style="font-size:13px" class="anchoral-two-runs-caption">'
                f"A = {html.escape(run_label(cmp.run_a))}, B = "
                f"{html.escape(run_label(cmp.run_b))}, {scope}: "
                f"{html.escape(cmp.summary())}.</div>")

    def __panel__(self):
        two = self.two
        deps = (two.param.run_a, two.param.run_b, two.param.round, two.param.cumulative,
                two.param.synced)
        counts = pn.pane.DataFrame(pn.bind(self._counts, *deps), index=False, escape=True,
                                   width=330, css_classes=["anchoral-two-runs-counts"])
        side = pn.Column(self.run_a, self.run_b, self.round, self.cumulative,
                         pn.pane.HTML(pn.bind(self._caption, *deps), width=320),
                         counts, self.download, width=340)
        if self.map is None:
            self.map = TwoRunsMap(state=self.state, two=two, height=460)
        return pn.Row(side, self.map, sizing_mode="stretch_width")


__all__ = ["SummaryLine", "ProjectionView", "TwoRunsView", "TwoRunsMap", "GROUP_STYLE"]
