"""The map: the whole pool datashaded once, the selected round drawn over it as real glyphs."""

from __future__ import annotations

import html
from functools import reduce
from operator import mul

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from holoviews.operation.datashader import datashade, dynspread, rasterize

from .records import is_full_pool, run_color, run_label, snippet
from .state import LAYERS, ExplorerState

LAYER_STYLE = {
    "labelled": dict(label="Labelled (fill: class)", marker="circle", size=7, line_color="black",
                     line_width=0.8, fill_alpha=0),
    "labelled_fill": dict(label="", marker="circle", size=7, line_alpha=0),
    "subpool": dict(label="Subpool", marker="circle", size=5, color="#ffd700", alpha=0.55,
                    line_color="#b8860b", line_width=0.4),
    "anchors": dict(label="Anchors", marker="star", size=15, color="black", line_color="white",
                    line_width=0.8),
    "queried": dict(label="Queried", marker="diamond", size=11, line_color="white",
                    line_width=1.0),
    "preview": dict(label="Preview subpool", marker="circle", size=8, fill_alpha=0,
                    line_color="#00a6c7", line_width=1.4),
}
UNLABELLED, UNLABELLED_COLOR = "(unlabelled)", "#8c8c8c"
#: glyphs the browser draws at most per overlay (a larger subpool is subsampled for display)
MAX_GLYPHS = 20_000
HOVER = [("id", "@id"), ("text", "@text"), ("gold", "@label"), ("score", "@score{0.000}"),
         ("anchor", "@anchor"), ("similarity", "@similarity{0.000}")]
VDIMS = ["id", "text", "label", "score", "anchor", "similarity", "color"]


class MapView(pn.viewable.Viewer):
    """UMAP map of the pool with the selected run's round on top.

    The background raster is built once per pool (classes, minority on top); each overlay is its
    own DynamicMap so a new round or a toggled layer redraws glyphs only.
    """

    state = param.ClassSelector(class_=ExplorerState)
    height = param.Integer(default=560)

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        ds_ = st.prepared.dataset
        coords = np.asarray(st.prepared.coords, dtype=np.float32)
        self._xy = coords
        self._labels = np.array(ds_.classes, dtype=object)
        self._stream = hv.streams.Params(
            st, ["run", "round", "layers", "version", "preview"], rename={"round": "round_"})
        self._values = hv.streams.Pipe(data=self._value_frame(None))
        self._values_shown = False
        self._plot = self._build()
        self._pane = pn.pane.HoloViews(self._plot, sizing_mode="stretch_width",
                                       height=self.height, linked_axes=False,
                                       css_classes=["anchoral-map"])
        st.param.watch(self._update_values, ["color_by", "version", "run"])

    # ------------------------------------------------------------------- the background
    def _background(self):
        st = self.state
        ds_ = st.prepared.dataset
        # annotate mode: rows without a label are their own (grey) category
        names = list(ds_.classes) + [UNLABELLED]
        cls = pd.Categorical.from_codes(np.where(ds_.y >= 0, ds_.y, len(ds_.classes)),
                                        categories=names)
        df = pd.DataFrame({"x": self._xy[:, 0], "y": self._xy[:, 1], "cls": cls})
        minority = np.isin(ds_.y, st.prepared_for_settings.dataset.minority)
        colors = dict(st.class_colors, **{UNLABELLED: UNLABELLED_COLOR})
        layers = []
        # the pool must read clearly behind the overlays: every occupied pixel at least ~70 %
        # opaque, single points spread to 2 px; the minority on top, spread further
        for part, spread in ((~minority, 2), (minority, 3)):
            if not part.any():
                continue
            pts = hv.Points(df[part], kdims=["x", "y"], vdims=["cls"])
            shaded = datashade(pts, aggregator=ds.count_cat("cls"), color_key=colors,
                               min_alpha=180 if spread == 2 else 230)
            # the class legend is the HTML one above the map (Bokeh's field legend for a
            # categorical raster clashes with the glyph overlays' legend)
            layers.append(dynspread(shaded, threshold=0.8, max_px=spread).opts(
                show_legend=False))
        values = rasterize(hv.DynamicMap(self._value_points, streams=[self._values]),
                           aggregator=ds.mean("value")).opts(
            cmap="RdYlBu_r", clim=(0, 1), colorbar=False, alpha=0.9, tools=[])
        layers.append(dynspread(values, threshold=0.6, max_px=2))
        return reduce(mul, layers)

    def _value_frame(self, values):
        if values is None:
            return pd.DataFrame({"x": np.empty(0, np.float32), "y": np.empty(0, np.float32),
                                 "value": np.empty(0, np.float32)})
        return pd.DataFrame({"x": self._xy[:, 0], "y": self._xy[:, 1], "value": values})

    def _value_points(self, data):
        return hv.Points(data, kdims=["x", "y"], vdims=["value"])

    def _update_values(self, *events):
        st = self.state
        if st.color_by == "class":
            if self._values_shown:  # back to classes: clear the value raster once
                self._values_shown = False
                self._values.send(self._value_frame(None))
            return
        values = st.pool_values()
        if values is not None:
            self._values_shown = True
            self._values.send(self._value_frame(values))

    # ---------------------------------------------------------------------- overlays
    def _frame(self, ids, rec=None):
        st = self.state
        ds_ = st.prepared.dataset
        ids = np.asarray(ids, dtype=np.int64)
        n = len(ids)
        score = np.full(n, np.nan)
        anchor = np.full(n, -1, np.int64)
        sim = np.full(n, np.nan)
        if rec is not None and n and len(rec.queried):
            pos = {int(q): i for i, q in enumerate(rec.queried)}
            for j, i in enumerate(ids):
                k = pos.get(int(i))
                if k is not None:
                    score[j] = rec.scores[k]
                    anchor[j] = rec.anchor_of[k]
                    sim[j] = rec.similarity[k]
        y = ds_.y[ids]
        names = [ds_.classes[c] if c >= 0 else "" for c in y]
        return pd.DataFrame({
            "x": self._xy[ids, 0], "y": self._xy[ids, 1], "id": ids,
            # Bokeh escapes tooltip fields (no {safe} format): the snippet shows as text
            "text": [snippet(t, 160) for t in ds_.texts[ids]],
            "label": names, "score": score, "anchor": anchor, "similarity": sim,
            "color": [st.class_colors.get(nm, "#999999") for nm in names],
        })

    def _points(self, name, ids, rec=None, color=None):
        style = dict(LAYER_STYLE[name])
        label = style.pop("label")
        shown = name == "preview" or name.split("_")[0] in self.state.layers
        if not shown:
            ids = ids[:0]
        if len(ids) > MAX_GLYPHS:
            step = int(np.ceil(len(ids) / MAX_GLYPHS))
            label = f"{label} (1 in {step} shown)"
            ids = ids[::step]
        if color is not None:
            style["color"] = color
        elif name == "labelled":
            style["color"] = "black"
        pts = hv.Points(self._frame(ids, rec), kdims=["x", "y"], vdims=VDIMS, label=label)
        return pts.opts(tools=["hover"], hover_tooltips=HOVER, **style)

    def _labelled_ids(self, run, round_):
        st = self.state
        rec = st.record(run, round_)
        return rec.labelled if rec is not None else st.initial_labelled()

    def _labelled(self, run, round_, layers, version, preview):
        return self._points("labelled", self._labelled_ids(run, round_))

    def _labelled_fill(self, run, round_, layers, version, preview):
        # one fixed-colour layer per class: a colour *field* would make Bokeh build a
        # field legend that clashes with the other overlays
        st = self.state
        ids = self._labelled_ids(run, round_)
        if "labelled" not in layers:
            ids = ids[:0]
        y = st.prepared.dataset.y[ids]
        style = {k: v for k, v in LAYER_STYLE["labelled_fill"].items() if k != "label"}
        parts = []
        for c, name in enumerate(st.prepared.dataset.classes):
            sel = ids[y == c]
            df = pd.DataFrame({"x": self._xy[sel, 0], "y": self._xy[sel, 1]})
            parts.append(hv.Points(df, kdims=["x", "y"]).opts(
                color=st.class_colors.get(name, "#999999"), show_legend=False, **style))
        return hv.Overlay(parts)

    def _subpool(self, run, round_, layers, version, preview):
        rec = self.state.record(run, round_)
        ids = rec.subpool if rec is not None and run and not is_full_pool(run) else \
            np.empty(0, np.int64)
        return self._points("subpool", ids, rec)

    def _anchors(self, run, round_, layers, version, preview):
        rec = self.state.record(run, round_)
        ids = rec.anchors if rec is not None else np.empty(0, np.int64)
        return self._points("anchors", ids, rec)

    def _queried(self, run, round_, layers, version, preview):
        rec = self.state.record(run, round_)
        ids = rec.queried if rec is not None else np.empty(0, np.int64)
        return self._points("queried", ids, rec, color=run_color(run))

    def _preview(self, run, round_, layers, version, preview):
        ids = preview.subpool if preview is not None and preview.run == run else \
            np.empty(0, np.int64)
        return self._points("preview", ids)

    def _links(self, run, round_, layers, version, preview):
        rec = self.state.record(run, round_)
        cols = ["x0", "y0", "x1", "y1"]
        if rec is None or "links" not in layers or not len(rec.queried):
            return hv.Segments(pd.DataFrame(columns=cols, dtype=float), cols,
                               label="Anchor → query")
        has = rec.anchor_of >= 0
        a, q = rec.anchor_of[has], rec.queried[has]
        df = pd.DataFrame({"x0": self._xy[a, 0], "y0": self._xy[a, 1],
                           "x1": self._xy[q, 0], "y1": self._xy[q, 1]})
        return hv.Segments(df, cols, label="Anchor → query")

    def _build(self):
        s = [self._stream]
        links = hv.DynamicMap(self._links, streams=s).opts(color="#333333", alpha=0.5,
                                                            line_width=1)
        # draw order: subpool under labelled under anchors under queried
        overlays = [hv.DynamicMap(getattr(self, f"_{name}"), streams=s)
                    for name in ("subpool", "preview", "labelled_fill", "labelled", "anchors",
                                 "queried")]
        plot = self._background() * links
        for o in overlays:
            plot = plot * o
        return plot.opts(
            hv.opts.Overlay(responsive=True, xaxis=None, yaxis=None, legend_position="top_left",
                            legend_opts={"background_fill_alpha": 0.8}, title="",
                            active_tools=["wheel_zoom"], toolbar="above",
                            backend_opts={"plot.name": "anchoral-map"}),
        )

    # --------------------------------------------------------------------------- layout
    def legend(self):
        """An HTML legend of the class colours (class names escaped)."""
        st = self.state
        minority = set(st.minority)
        items = "".join(
            f'<span style="white-space:nowrap;margin-right:12px">'
            f'<span style="display:inline-block;width:10px;height:10px;border-radius:5px;'
            f'background:{color};margin-right:4px"></span>{html.escape(name)}'
            f'{" <b>(minority)</b>" if name in minority else ""}</span>'
            for name, color in list(st.class_colors.items()) + (
                [(UNLABELLED, UNLABELLED_COLOR)] if st.annotate_data else []))
        if st.color_by != "class":
            what = "P(minority)" if st.color_by == "probability" else "normalised entropy"
            return (f'<div style="font-size:12px">Pool coloured by the current model\'s {what} '
                    f'({html.escape(run_label(st.run)) if st.run else "no model yet"}): '
                    '<span style="background:linear-gradient(90deg,#313695,#ffffbf,#a50026);'
                    'display:inline-block;width:120px;height:10px"></span> 0 → 1. '
                    f'Overlay fill: {items}</div>')
        what = "label (seed labels only: annotate mode)" if st.annotate_data else "gold class"
        return f'<div style="font-size:12px">Pool by {what}: {items}</div>'

    def __panel__(self):
        st = self.state
        legend = pn.pane.HTML(pn.bind(lambda *_: self.legend(), st.param.minority,
                                      st.param.n_done, st.param.color_by, st.param.run),
                              margin=(0, 10))
        return pn.Column(legend, self._pane, sizing_mode="stretch_width")


def map_title(state: ExplorerState) -> str:
    """One line over the map: which run and round it shows."""
    if state.run is None or state.round == 0:
        return "Initial labelled set" if state.experiment is not None else "The pool"
    rec = state.record()
    if rec is not None and rec.proposed:
        return f"{run_label(state.run)}, round {state.round}: the batch to label"
    return f"{run_label(state.run)}, round {state.round} of {state.rounds_of()}"


__all__ = ["MapView", "LAYERS", "map_title"]
