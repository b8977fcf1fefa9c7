"""A Bokeh map of the pool: one server-rendered raster behind glyph layers, shared per process.

:class:`PoolMap` is the figure both maps of the page build on (the explorer's map and the two-run
map). Its background is one RGBA image of the whole pool (:class:`~explorer.ui.raster.PoolRaster`)
in an ``ImageRGBA`` glyph; a pan or zoom sends one ``RangesUpdate`` event, the raster for the new
view is computed off the event loop and replaces the image (bursts of events coalesce: at most
one render in flight per map, the newest view wins). The layers on top are plain
``ColumnDataSource`` scatters whose data is replaced when the state changes.

What every session of a process shows the same is computed once per process: the raster object
(the pool split by class) and the image of the default view (:func:`shared_raster`,
:func:`_cached_image`), so a class opening one server pays for the pool's first image once.
The figure is plain Bokeh (no HoloViews plot per layer): building it and updating it is a few
model changes, which is what lets one server hold a class (docs/benchmarks.md, section 5c).
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading

import numpy as np
import panel as pn
import param
from bokeh.core.properties import value
from bokeh.events import RangesUpdate
from bokeh.models import (AllIndices, CDSView, ColumnDataSource, HoverTool, Legend, LegendItem,
                          Range1d, Scatter)
from bokeh.plotting import figure

from .jobs import locked
from .legend import StandIns
from .raster import PoolRaster

#: the raster's size limit (width x height): about a 630 x 320 raster on a wide screen,
#: stretched by the browser; each view costs shading and an image of that size
MAX_RASTER_PIXELS = 200_000
#: the plot's drawing area until the browser reports its size
DEFAULT_FRAME = (900, 520)

_LOCK = threading.Lock()
_RASTERS: "collections.OrderedDict[tuple, PoolRaster]" = collections.OrderedDict()
_IMAGES: "collections.OrderedDict[tuple, dict]" = collections.OrderedDict()
_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="anchoral-map")


def shared_raster(key, build) -> PoolRaster:
    """The process's :class:`PoolRaster` for ``key`` (built by ``build()`` the first time).

    ``key`` names everything the raster depends on (the pool object, class names, colours,
    minority), so sessions with the same pool and colours share one; at most 8 are kept.
    """
    with _LOCK:
        raster = _RASTERS.get(key)
        if raster is not None:
            _RASTERS.move_to_end(key)
            return raster
    raster = build()
    with _LOCK:
        _RASTERS[key] = raster
        while len(_RASTERS) > 8:
            _RASTERS.popitem(last=False)
    return raster


def image_data(raster, x_range, y_range, width, height, values=None) -> dict:
    """``ImageRGBA`` source data of the pool in this view (``values``: the value layer)."""
    img = raster.image(x_range, y_range, width, height, values=values)
    xs, ys = img.coords["x"].values, img.coords["y"].values
    # pixel centres -> the image's outer edges
    dx = (xs[-1] - xs[0]) / max(len(xs) - 1, 1) if len(xs) > 1 else 1.0
    dy = (ys[-1] - ys[0]) / max(len(ys) - 1, 1) if len(ys) > 1 else 1.0
    x0, y0 = float(xs[0] - dx / 2), float(ys[0] - dy / 2)
    return {"image": [np.ascontiguousarray(img.data, dtype=np.uint32)], "x": [x0], "y": [y0],
            "dw": [float(dx * len(xs))], "dh": [float(dy * len(ys))]}


def _cached_image(key, raster, view) -> dict:
    """:func:`image_data` of a class-coloured view, computed once per process per view."""
    with _LOCK:
        data = _IMAGES.get((key, view))
        if data is not None:
            _IMAGES.move_to_end((key, view))
            return data
    data = image_data(raster, *view)
    with _LOCK:
        _IMAGES[(key, view)] = data
        while len(_IMAGES) > 32:
            _IMAGES.popitem(last=False)
    return data


def raster_size(width, height) -> tuple[int, int]:
    """The raster for a ``width`` x ``height`` drawing area (at most ``MAX_RASTER_PIXELS``),
    rounded so that small size changes reuse the same image."""
    width, height = max(int(width or DEFAULT_FRAME[0]), 16), max(int(height or DEFAULT_FRAME[1]), 16)
    if width * height > MAX_RASTER_PIXELS:
        shrink = (MAX_RASTER_PIXELS / (width * height)) ** 0.5
        width, height = width * shrink, height * shrink
    return int(round(width / 16) * 16) or 16, int(round(height / 16) * 16) or 16


def in_server() -> bool:
    """Whether this code runs in a served page (a Bokeh server session)."""
    doc = pn.state.curdoc
    return doc is not None and doc.session_context is not None


def scatter_style(style: dict) -> dict:
    """HoloViews-like point style (``color``, ``alpha``) as Bokeh scatter arguments."""
    style = dict(style)
    color = style.pop("color", None)
    alpha = style.pop("alpha", None)
    out = {"marker": style.pop("marker", "circle"), "size": style.pop("size", 6)}
    if color is not None:
        out["fill_color"] = color
        out.setdefault("line_color", color)
    if alpha is not None:
        out["fill_alpha"] = out["line_alpha"] = alpha
    out.update(style)
    return out


class PoolMap(pn.viewable.Viewer):
    """The pool raster in a Bokeh figure, with named glyph layers on top.

    Subclasses add layers with :meth:`add_layer` in :meth:`build_layers` and fill them with
    :meth:`set_layer`; :meth:`values` (None: colour by class) adds the value layer.
    """

    height = param.Integer(default=560)
    figure_name = param.String(default="anchoral-map")

    def __init__(self, **params):
        super().__init__(**params)
        self._pending = None       # the newest view asked for while a render runs
        self._rendering = False
        self._frame_size = DEFAULT_FRAME
        self._shown_size = raster_size(*DEFAULT_FRAME)
        self._resize_due = False
        self._view = None          # (x_range, y_range) shown, None: the whole pool
        self._raster_key = None
        self.raster = None
        self.fig = None
        self.legend_items: dict[str, LegendItem] = {}
        self.sources: dict[str, ColumnDataSource] = {}
        self.renderers: dict = {}
        self.stand_ins: dict = {}  # the legend's renderer of each layer (explorer/ui/legend.py)
        self._stand_ins = None
        self._all = None

    # ------------------------------------------------------------------ the figure
    def make_figure(self, raster_key, build_raster):
        """Build the figure around the shared raster of ``raster_key``."""
        self._raster_key = raster_key
        self.raster = shared_raster(raster_key, build_raster)
        r = self.raster
        fig = figure(name=self.figure_name, height=self.height, sizing_mode="stretch_width",
                     x_range=Range1d(*r.x_range), y_range=Range1d(*r.y_range),
                     tools="pan,wheel_zoom,box_zoom,reset,save", active_scroll="wheel_zoom",
                     toolbar_location="above", min_border=0, title=None)
        # a wheel zoom announces its new view when the wheel has been still for lod_timeout
        # ms (Bokeh's default 500 ms would be most of a re-render's wait)
        fig.lod_timeout = 100
        fig.axis.visible = False
        fig.grid.visible = False
        fig.outline_line_color = None
        self._image = ColumnDataSource(self._first_image(), name="pool-image")
        fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=self._image,
                       name="pool")
        self.fig = fig
        self._legend = Legend(items=[], location="top_left", background_fill_alpha=0.8,
                              label_text_font_size="11px", spacing=0, padding=6)
        fig.add_layout(self._legend)
        self._hover = HoverTool(renderers=[], tooltips=None)
        fig.add_tools(self._hover)
        fig.on_event(RangesUpdate, self._on_ranges)
        fig.on_change("inner_width", self._on_size)
        fig.on_change("inner_height", self._on_size)
        # the class names the page (and its browser tests) find the map by
        self._pane = pn.Column(pn.pane.Bokeh(fig, sizing_mode="stretch_width",
                                             height=self.height),
                               css_classes=[self.figure_name], sizing_mode="stretch_width")
        return fig

    def set_raster(self, raster_key, build_raster) -> None:
        """Draw the pool with the shared raster of ``raster_key`` from the next redraw on (the
        same points coloured otherwise); call :meth:`redraw` after it."""
        self._raster_key = raster_key
        self.raster = shared_raster(raster_key, build_raster)

    def _first_image(self):
        size = raster_size(*self._frame_size)
        return self._render((self.raster.x_range, self.raster.y_range, *size), self.values())

    def add_layer(self, name, label, style, hover=None, legend=True, source=None):
        """A scatter layer named ``label`` (the name the browser tests look for); ``source``:
        draw the rows of another layer's source (one copy of the data, sent once)."""
        src = source or ColumnDataSource({"x": [], "y": []}, name=f"layer:{name}")
        # a glyph with no selection / muted copies, and one filter for every layer: two to
        # three models a layer instead of six (the page's weight, docs/benchmarks.md)
        if self._all is None:
            self._all = AllIndices()
        r = self.fig.add_glyph(src, Scatter(x="x", y="y", **scatter_style(style)), name=label,
                               view=CDSView(filter=self._all))
        self.sources[name], self.renderers[name] = src, r
        if legend:  # the legend shows a stand-in: new rows do not redraw it (legend.py)
            stand_in = self.stand_in(Scatter(x="x", y="y", **scatter_style(style)))
            self.stand_ins[name] = stand_in
            item = LegendItem(label=value(label), renderers=[stand_in], visible=False)
            self.legend_items[name] = item
            self._legend.items = [*self._legend.items, item]
        if hover:
            self._hover.renderers = [*self._hover.renderers, r]
            self._hover.tooltips = hover
        return r

    def stand_in(self, glyph):
        """A renderer of ``glyph`` that draws nothing, for the legend (explorer/ui/legend.py)."""
        if self._stand_ins is None:
            if self._all is None:
                self._all = AllIndices()
            self._stand_ins = StandIns(self.fig, CDSView(filter=self._all))
        return self._stand_ins.add(glyph)

    def set_layer(self, name, data: dict, label=None) -> None:
        """Replace a layer's rows (call with the document lock: see :func:`locked`)."""
        src = self.sources[name]
        # an empty layer that stays empty sends nothing (the preview and links, most rounds)
        if (len(next(iter(data.values()), ())) or len(next(iter(src.data.values()), ()))
                or set(data) != set(src.data)):
            src.data = data
        item = self.legend_items.get(name)
        if item is not None:
            # the legend lists only what is drawn
            item.visible = bool(len(next(iter(data.values()), ())))
            if label is not None:
                item.label = value(label)

    # ----------------------------------------------------------- pan, zoom, resize
    def values(self):
        """Per-row values in [0, 1] drawn over the classes, or None (classes only)."""
        return None

    def _on_size(self, attr, old, new):
        if not new:
            return
        w, h = self._frame_size
        self._frame_size = (new, h) if attr == "inner_width" else (w, new)
        if not self._resize_due:  # width and height come in one message: one redraw
            self._resize_due = True
            locked(self._resized)

    def _resized(self):
        self._resize_due = False
        if raster_size(*self._frame_size) != self._shown_size:
            self.redraw()

    def _on_ranges(self, event):
        if None in (event.x0, event.x1, event.y0, event.y1):
            return
        self._view = ((event.x0, event.x1), (event.y0, event.y1))
        self.redraw()

    def redraw(self) -> None:
        """Render the background for the current view and size (off the event loop when
        served; at most one render in flight, the newest request wins)."""
        if self.raster is None:
            return
        x_range, y_range = self._view or (self.raster.x_range, self.raster.y_range)
        request = (tuple(map(float, x_range)), tuple(map(float, y_range)),
                   *raster_size(*self._frame_size))
        values = self.values()
        self._shown_size = request[2:]
        if not in_server():
            self._image.data = self._render(request, values)
            return
        self._pending = (request, values)
        if self._rendering:
            return
        self._start_render()

    def _start_render(self):
        from .jobs import make_scheduler

        request, values = self._pending
        self._pending = None
        self._rendering = True
        schedule = make_scheduler()

        def done(future):
            def apply():
                self._rendering = False
                try:
                    self._image.data = future.result()
                finally:
                    if self._pending is not None:
                        self._start_render()
            schedule(apply)

        _EXECUTOR.submit(self._render, request, values).add_done_callback(done)

    def _render(self, request, values):
        whole = request[:2] == (self.raster.x_range, self.raster.y_range)
        if values is None and whole:  # the view every page opens with: once per process
            return _cached_image(self._raster_key, self.raster, request)
        return image_data(self.raster, *request, values=values)

    def __panel__(self):
        return self._pane
