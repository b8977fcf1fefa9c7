"""Explore the pool on the map: neighbours of a typed text or a clicked point, box/lasso selection.

:class:`ExploreView` adds to the explorer's map (a :class:`~explorer.ui.poolmap.PoolMap`) two
highlight layers (the query row and its neighbours; the selected rows), a veil that greys the
rest of the pool while something is highlighted (the pool stays as context: nothing is filtered
away), the box and lasso select tools, and a click handler. The datashaded map has no glyph per
row, so the select tools send their *geometry* (Bokeh's ``SelectionGeometry`` event) and the
rows are found on the server from the coordinates (:mod:`explorer.selection`). Its side panel
(search box, k, the list of neighbours, the selection's count and exports) is built when the
page shows it. State: :class:`~explorer.ui.explore_state.ExploreState` (no Panel).
"""

from __future__ import annotations

import html
import io

import numpy as np
import panel as pn
import param
from bokeh.events import SelectionGeometry, Tap
from bokeh.models import BoxAnnotation, BoxSelectTool, LassoSelectTool

from .explore_state import ExploreState
from .jobs import locked, make_scheduler
from .map import HOVER
from .poolmap import PoolMap
from .records import snippet
from .state import ExplorerState

#: the highlight layers (names the browser tests look for)
STYLE = {
    "explore_selection": dict(label="Selection", marker="circle", size=5, color="#0b5394",
                              alpha=0.9, line_color="#0b5394", line_width=0.3),
    "explore_neighbours": dict(label="Neighbours", marker="circle", size=11, color="#e6007e",
                               line_color="white", line_width=1.2),
    "explore_query": dict(label="Query row", marker="star", size=20, color="#e6007e",
                          line_color="black", line_width=1.0),
}
#: selected rows drawn at most (a larger selection is subsampled for display; the count, the
#: exports and the actions take every row)
MAX_SELECTION_GLYPHS = 5_000
#: a click picks the row drawn within this many pixels of it
TAP_PIXELS = 12
#: characters of text per listed neighbour
LIST_CHARS = 220


class ExploreView(pn.viewable.Viewer):
    """Neighbour search and map selection for one page, drawn on ``map``.

    Parameters
    ----------
    state : ExplorerState
        The page's state (its shared pool).
    map : PoolMap
        The map to draw the highlights on and take clicks and selections from.
    """

    state = param.ClassSelector(class_=ExplorerState)
    map = param.ClassSelector(class_=PoolMap)

    def __init__(self, **params):
        super().__init__(**params)
        self.explore = ExploreState(self.state.prepared)
        self._xy = np.asarray(self.state.prepared.coords, np.float32)
        self._panel = None
        self._attach(self.map)
        ex = self.explore
        ex.param.watch(lambda *_: locked(self._draw), ["result", "selection"])

    # ---------------------------------------------------------------------------- the map
    def _attach(self, m):
        """The select tools and the event handlers now; the highlight layers and the veil with
        the first highlight (:meth:`_build_layers`): a page nobody explores pays ~6 models."""
        fig = m.fig
        self.veil = None
        self.box_tool = BoxSelectTool(renderers=[], description="Box select rows")
        self.lasso_tool = LassoSelectTool(renderers=[], continuous=False,
                                          description="Lasso select rows")
        fig.add_tools(self.box_tool, self.lasso_tool)
        fig.on_event(SelectionGeometry, self._on_geometry)
        fig.on_event(Tap, self._on_tap)

    def _build_layers(self):
        m = self.map
        fig = m.fig
        pool = fig.select_one({"name": "pool"})
        if pool is not None:
            pool.level = "image"  # under the veil, which is under every glyph layer
        self.veil = BoxAnnotation(fill_color="white", fill_alpha=0.6, line_alpha=0,
                                  level="underlay", visible=False, name="explore-veil")
        fig.add_layout(self.veil)
        for name, style in STYLE.items():
            style = dict(style)
            m.add_layer(name, style.pop("label"), style, hover=HOVER)

    def _on_geometry(self, event):
        geom = event.geometry or {}
        if not event.final:
            return
        if geom.get("type") == "rect":
            self.explore.select_box((geom["x0"], geom["x1"]), (geom["y0"], geom["y1"]))
        elif geom.get("type") == "poly":
            self.explore.select_lasso(geom["x"], geom["y"])

    def _on_tap(self, event):
        if event.x is None or event.y is None:
            return
        fig = self.map.fig
        width = max(float(self.map._frame_size[0] or 0) or 900.0, 1.0)  # as the browser said
        span = abs(float(fig.x_range.end) - float(fig.x_range.start))
        self.explore.tap(event.x, event.y, max_distance=TAP_PIXELS * span / width)

    def _rows(self, ids, sims=None) -> dict:
        ids = np.asarray(ids, np.int64)
        ds = self.state.prepared.dataset
        n = len(ids)
        y = ds.y[ids]
        return {"x": self._xy[ids, 0], "y": self._xy[ids, 1], "id": ids,
                "text": [snippet(t, 160) for t in ds.texts[ids]],
                "label": [ds.classes[c] if c >= 0 else "" for c in y],
                "score": np.full(n, np.nan), "anchor": np.full(n, -1, np.int64),
                "similarity": np.full(n, np.nan) if sims is None else np.asarray(sims, float)}

    def layer_data(self) -> dict:
        """{layer: (rows, legend label)} of the highlight layers for the current state."""
        ex = self.explore
        res = ex.result
        empty = np.empty(0, np.int64)
        sel, label = ex.selection, STYLE["explore_selection"]["label"]
        if len(sel) > MAX_SELECTION_GLYPHS:
            step = int(np.ceil(len(sel) / MAX_SELECTION_GLYPHS))
            sel, label = sel[::step], f"{label} (1 in {step} shown)"
        out = {"explore_selection": (self._rows(sel), label)}
        if res is None:
            out["explore_neighbours"] = (self._rows(empty), None)
            out["explore_query"] = (self._rows(empty), None)
        else:
            out["explore_neighbours"] = (self._rows(res.ids, res.similarity), None)
            query = np.array([res.query] if res.by_row else [], np.int64)
            out["explore_query"] = (self._rows(query, [1.0] * len(query)), None)
        return out

    def _draw(self):
        ex = self.explore
        if self.veil is None:
            if ex.result is None and not len(ex.selection):
                return  # nothing highlighted yet: no layers to build
            self._build_layers()
        for name, (rows, label) in self.layer_data().items():
            self.map.set_layer(name, rows, label)
        self.veil.visible = ex.result is not None or bool(len(ex.selection))

    # ------------------------------------------------------------------------ the panel
    def _search(self, *_):
        self.explore.search_text(self.query.value_input or self.query.value, make_scheduler())

    def _listing(self, *_):
        ex = self.explore
        rows = ex.result_rows()
        if not rows:
            return ""
        items = "".join(
            f'<li data-id="{r["id"]}"><span style="color:#555">#{r["id"]} · '
            f'{html.escape(r["label"] or "(unlabelled)")} · {r["similarity"]:.3f}</span><br>'
            f'{html.escape(snippet(r["text"], LIST_CHARS))}</li>' for r in rows)
        return (f'<ol class="anchoral-neighbours" style="font-size:12px;padding-left:22px;'
                f'max-height:360px;overflow:auto;margin:0">{items}</ol>')

    def _message(self, *_):
        ex = self.explore
        if ex.error:
            return f'<div style="color:#b00020;font-size:12px">{html.escape(ex.error)}</div>'
        return f'<div style="font-size:12px">{html.escape(ex.status)}</div>'

    def _download(self, fmt):
        def payload():
            return io.BytesIO(self.explore.export_selection(fmt))
        return pn.widgets.FileDownload(callback=payload, filename=f"selection.{fmt}",
                                       label=f"Export {fmt.upper()}", button_type="light",
                                       width=120, embed=False)

    def _download_row(self):
        return pn.Row(self._download("csv"), self._download("parquet"))

    def _act(self, action, *args):
        from . import chosen

        getattr(chosen, action)(self.state, self.explore.selection, *args, make_scheduler())

    def _act_row(self):
        """Label the selection (hand sessions), open it in the queue, fork with it."""
        st, w = self.state, pn.widgets
        classes = list(st.prepared.dataset.classes)
        hand = pn.bind(lambda *_: st.hand, st.param.label_by_hand)
        self.label_select = w.Select(options=classes, value=classes[0], width=120,
                                     name="Label all as", visible=hand)
        label = w.Button(name="Label selection", button_type="primary", width=130,
                         visible=hand, align="end")
        label.on_click(lambda e: self._act("label_rows", self.label_select.value))
        queue = w.Button(name="Open in labelling queue", button_type="light", width=180,
                         visible=hand)
        queue.on_click(lambda e: self._act("queue_rows"))
        fork = w.Button(name="Fork with selection", button_type="light", width=160)
        fork.on_click(lambda e: self._act("fork_with_rows"))
        hint = pn.pane.HTML('<div style="font-size:11px;color:#555">Fork: a new run from the '
                            "round on the map whose next labelled batch is the selection.</div>",
                            margin=(0, 10))
        return pn.Column(pn.Row(self.label_select, label), queue, fork, hint,
                         sizing_mode="stretch_width")

    def _build(self):
        ex = self.explore
        w = pn.widgets
        hint = ("Type a text, or click a point on the map" if ex.has_encoder else
                "This pool has no text encoder: click a point on the map")
        self.query = w.TextInput(name="Neighbours of a text", placeholder="type a text…",
                                 disabled=not ex.has_encoder, sizing_mode="stretch_width")
        self.query.param.watch(self._search, "value")  # Enter
        self.k = w.IntInput.from_param(ex.param.k, name="k", width=80)
        self.search_button = w.Button(name="Search", button_type="primary", width=90,
                                      disabled=not ex.has_encoder)
        self.search_button.on_click(self._search)
        clear = w.Button(name="Clear", button_type="light", width=70)
        clear.on_click(lambda e: (ex.clear_result(), ex.clear_selection()))
        deps = (ex.param.result, ex.param.selection, ex.param.status, ex.param.error,
                ex.param.busy)
        message = pn.pane.HTML(pn.bind(self._message, *deps), sizing_mode="stretch_width",
                               css_classes=["anchoral-explore-status"], margin=(0, 10))
        listing = pn.pane.HTML(pn.bind(self._listing, ex.param.result),
                               sizing_mode="stretch_width", margin=(0, 10))
        count = pn.pane.HTML(pn.bind(lambda *_: ex.selection_summary(), ex.param.selection),
                             sizing_mode="stretch_width", margin=(0, 10),
                             css_classes=["anchoral-selection-count"])
        has_sel = pn.bind(lambda s: bool(len(s)), ex.param.selection)
        # the exports and actions are built with the first selection (a light page until then)
        actions = pn.Column(sizing_mode="stretch_width", visible=has_sel)

        def fill(*_):
            if len(ex.selection) and not len(actions):
                actions[:] = [self._download_row(), self._act_row()]
        ex.param.watch(fill, "selection")
        fill()
        return pn.Card(
            pn.pane.HTML(f'<div style="font-size:11px;color:#555">{hint}; select rows with the '
                         "map's box or lasso tool (toolbar).</div>", margin=(0, 10)),
            self.query, pn.Row(self.k, self.search_button, clear), message, listing, count,
            actions, title="Explore: neighbours, selection", collapsed=False,
            sizing_mode="stretch_width", css_classes=["anchoral-explore"])

    def __panel__(self):
        if self._panel is None:
            self._panel = self._build()
        return self._panel


__all__ = ["ExploreView", "STYLE"]
