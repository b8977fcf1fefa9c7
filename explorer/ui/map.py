"""The map: the whole pool as one server-rendered raster, the selected round drawn over it as glyphs."""

from __future__ import annotations

import html

import numpy as np
import panel as pn
import param
from bokeh.core.properties import field, value
from bokeh.models import ColumnDataSource, LegendItem, Segment
from holoviews.plotting.util import process_cmap

from .jobs import locked
from .poolmap import MAX_RASTER_PIXELS, PoolMap
from .raster import PoolRaster
from .records import (MINORITY_VS_REST, REST_COLOR, REST_NAME, is_full_pool, run_color,
                      run_label, snippet)
from .state import LAYERS, ExplorerState

#: the subpool's markers: small and faint, so a subpool of most of the pool leaves it readable
#: (anchors and queried rows stay large and opaque on top)
SUBPOOL_SIZE, SUBPOOL_ALPHA = 3, 0.3
LAYER_STYLE = {
    "labelled": dict(label="Labelled (fill: class)", marker="circle", size=7, line_color="black",
                     line_width=0.8, fill_alpha=0),
    "labelled_fill": dict(label="", marker="circle", size=7, line_alpha=0),
    "subpool": dict(label="Subpool", marker="circle", size=SUBPOOL_SIZE, color="#e6b800",
                    alpha=SUBPOOL_ALPHA, line_width=0),
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


class MapView(PoolMap):
    """UMAP map of the pool with the selected run's round on top.

    The background is one RGBA image per view (:class:`~explorer.ui.poolmap.PoolMap`: one
    aggregation of the pool, minority classes on top, the default view shared by every session
    of the process); each layer is one scatter whose rows are replaced when the run, round,
    layers or rounds change.
    """

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        self._xy = np.asarray(st.prepared.coords, dtype=np.float32)
        self._value_data = None
        self.make_figure(*self._raster_spec())
        self.build_layers()
        self._update(now=True)  # not in a document yet: no lock needed
        self.watch_state()
        st.param.watch(self._update_values, ["color_by", "version", "run"])

    def watch_state(self):
        """Redraw the layers when what they show changes."""
        self.state.param.watch(self._changed, ["run", "round", "layers", "version", "preview",
                                               "color_by"])

    # ------------------------------------------------------------------- the background
    def _raster_spec(self):
        """(shared-raster key, builder) for the colouring shown; computed once per colouring
        and minority choice (the key hashes the pool's codes: milliseconds at 1M rows)."""
        st = self.state
        which = (st.color_by == MINORITY_VS_REST,
                 tuple(st.prepared_for_settings.dataset.minority))
        cache = self.__dict__.setdefault("_specs", {})
        if which not in cache:
            cache[which] = self._build_spec()
        return cache[which]

    def _build_spec(self):
        st = self.state
        ds_ = st.prepared.dataset
        # annotate mode: rows without a label are their own (grey) category
        names = list(ds_.classes) + [UNLABELLED]
        codes = np.where(ds_.y >= 0, ds_.y, len(ds_.classes))
        minority = [ds_.classes[c] for c in st.prepared_for_settings.dataset.minority]
        colors = dict(st.class_colors, **{UNLABELLED: UNLABELLED_COLOR})
        if st.color_by == MINORITY_VS_REST:
            # the minority classes, then one category for all the others: n_minority + 1
            # colours (+ the unlabelled rows in annotate mode), one count layer less per class
            shown = st.display_colors()
            lookup = np.full(len(names), len(minority), np.int64)
            for i, name in enumerate(minority):
                lookup[ds_.classes.index(name)] = i
            lookup[-1] = len(minority) + 1
            codes = lookup[codes]
            names = minority + [REST_NAME, UNLABELLED]
            colors = {**{m: shown[m] for m in minority}, REST_NAME: REST_COLOR,
                      UNLABELLED: UNLABELLED_COLOR}
            if not (ds_.y < 0).any():
                names = names[:-1]
        key = ("pool", id(st.prepared.coords), len(codes), hash(codes.tobytes()), tuple(names),
               tuple(sorted(colors.items())), tuple(minority))
        xy = self._xy

        def build():
            # the pool must read clearly behind the layers: every occupied pixel at least ~70 %
            # opaque, single points spread to 2 px; the minority on top, spread further; the
            # pool values over both when the map is coloured by value; one image per view
            return PoolRaster(xy, codes, names, colors, minority, spread=(2, 3),
                              min_alpha=(180, 230), threshold=0.8,
                              value_cmap=process_cmap("RdYlBu_r", ncolors=256),
                              max_pixels=MAX_RASTER_PIXELS)
        return key, build

    def values(self):
        return self._value_data

    def _update_values(self, *events):
        st = self.state
        key, build = self._raster_spec()
        if key != self._raster_key:  # per class <-> minority vs rest: the other shared raster
            self.set_raster(key, build)
            locked(self.redraw)
        if st.color_by in ("class", MINORITY_VS_REST):
            if self._value_data is not None:  # back to classes: drop the value layer once
                self._value_data = None
                locked(self.redraw)
            return
        values = st.pool_values()
        if values is not None:
            self._value_data = np.asarray(values, np.float32)
            locked(self.redraw)

    # ---------------------------------------------------------------------- layers
    def build_layers(self):
        # draw order: links, subpool, preview, labelled (fill, outline), anchors, queried
        links_style = dict(line_color="#333333", line_alpha=0.5, line_width=1)
        self.links = self.fig.segment("x0", "y0", "x1", "y1", source=ColumnDataSource(
            {"x0": [], "y0": [], "x1": [], "y1": []}, name="layer:links"),
            name="Anchor → query", **links_style)
        self.sources["links"], self.renderers["links"] = self.links.data_source, self.links
        stand_in = self.stand_in(Segment(x0="x", y0="y", x1="x", y1="y", **links_style))
        self.stand_ins["links"] = stand_in
        item = LegendItem(label=value("Anchor → query"), renderers=[stand_in], visible=False)
        self.legend_items["links"] = item
        self._legend.items = [item]
        for name in ("subpool", "preview", "labelled_fill", "labelled", "anchors", "queried"):
            style = dict(LAYER_STYLE[name])
            label = style.pop("label")
            if name == "labelled_fill":
                style["fill_color"] = field("color")  # the row's class colour (a data column)
            # the labelled rows' fill and outline draw one source (sent once per round)
            self.add_layer(name, label, style, hover=None if name == "labelled_fill" else HOVER,
                           legend=bool(label), source=self.sources.get("labelled_fill")
                           if name == "labelled" else None)

    def _frame(self, ids, rec=None) -> dict:
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
        colors = st.display_colors()
        return {
            "x": self._xy[ids, 0], "y": self._xy[ids, 1], "id": ids,
            # Bokeh escapes tooltip fields (no {safe} format): the snippet shows as text
            "text": [snippet(t, 160) for t in ds_.texts[ids]],
            "label": names, "score": score, "anchor": anchor, "similarity": sim,
            "color": [colors.get(nm, "#999999") for nm in names],
        }

    def _points(self, name, ids, rec=None):
        """(rows, legend label) of one layer: empty when the layer is toggled off, at most
        ``MAX_GLYPHS`` rows (a larger set is subsampled, and the label says so)."""
        label = LAYER_STYLE[name]["label"]
        shown = name == "preview" or name.split("_")[0] in self.state.layers
        if not shown:
            ids = ids[:0]
        if len(ids) > MAX_GLYPHS:
            step = int(np.ceil(len(ids) / MAX_GLYPHS))
            label = f"{label} (1 in {step} shown)"
            ids = ids[::step]
        return self._frame(ids, rec), label

    def _links(self, rec, layers) -> dict:
        if rec is None or "links" not in layers or not len(rec.queried):
            return {"x0": [], "y0": [], "x1": [], "y1": []}
        has = rec.anchor_of >= 0
        a, q = rec.anchor_of[has], rec.queried[has]
        return {"x0": self._xy[a, 0], "y0": self._xy[a, 1],
                "x1": self._xy[q, 0], "y1": self._xy[q, 1]}

    def layer_data(self) -> dict:
        """Every layer's rows and label for the state's run and round: {name: (rows, label)}."""
        st = self.state
        run, round_, preview = st.run, st.round, st.preview
        rec = st.record(run, round_)
        empty = np.empty(0, np.int64)
        labelled = rec.labelled if rec is not None else st.initial_labelled()
        out = {
            "subpool": self._points("subpool", rec.subpool if rec is not None and run and
                                    not is_full_pool(run) else empty, rec),
            "preview": self._points("preview", preview.subpool if preview is not None and
                                    preview.run == run else empty),
            "labelled": self._points("labelled", labelled),  # fill and outline: one source
            "anchors": self._points("anchors", rec.anchors if rec is not None else empty, rec),
            "queried": self._points("queried", rec.queried if rec is not None else empty, rec),
            "links": (self._links(rec, st.layers), None),
        }
        return out

    def _changed(self, *events):
        self._update()

    def _update(self, now=False):
        data = self.layer_data()
        color = run_color(self.state.run)

        def apply():
            self.renderers["queried"].glyph.fill_color = color
            self.stand_ins["queried"].glyph.fill_color = color  # unchanged: nothing is sent
            for name, (rows, label) in data.items():
                self.set_layer(name, rows, label)

        apply() if now else locked(apply)

    # --------------------------------------------------------------------------- layout
    def legend(self):
        """An HTML legend of the class colours (class names escaped)."""
        st = self.state
        minority = set(st.minority)
        colors = list(st.class_colors.items())
        if st.color_by == MINORITY_VS_REST:
            shown = st.display_colors()
            n_rest = sum(1 for c in shown.values() if c == REST_COLOR)
            colors = [(n, c) for n, c in shown.items() if c != REST_COLOR] + [
                (f"{REST_NAME[:-1]}: {n_rest})", REST_COLOR)]
        items = "".join(
            f'<span style="white-space:nowrap;margin-right:12px">'
            f'<span style="display:inline-block;width:10px;height:10px;border-radius:5px;'
            f'background:{color};margin-right:4px"></span>{html.escape(name)}'
            f'{" <b>(minority)</b>" if name in minority else ""}</span>'
            for name, color in colors + (
                [(UNLABELLED, UNLABELLED_COLOR)] if st.annotate_data else []))
        if st.color_by not in ("class", MINORITY_VS_REST):
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
