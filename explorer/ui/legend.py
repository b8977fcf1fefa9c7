"""Legend entries drawn from stand-in renderers that never change, so new data does not redraw them.

BokehJS re-renders a legend's entries (one new canvas each) whenever any model reachable from
its items changes, the items' renderers' data sources included (``LegendView`` connects
``on_transitive_change(items, recursive=True)``). A legend over the layers of the map and the
runs of the curves was therefore rebuilt five to eleven times per Step, for the same picture.
Here each entry points at a *stand-in*: a renderer with the entry's look over one source that
is never changed (one row at NaN, drawn nowhere); the real renderers, whose data change every
round, are not referenced by the legend. The stand-ins draw nothing on the plot. Costs two
models per entry (renderer, glyph).
"""

from __future__ import annotations

from bokeh.models import CDSView, ColumnDataSource

__all__ = ["SOURCE_NAME", "StandIns"]

#: the stand-ins' source's name (browser tests leave these renderers out of what a plot draws)
SOURCE_NAME = "legend-stand-ins"


class StandIns:
    """The stand-in renderers of one figure's legend (one shared source of one NaN row, one
    shared view)."""

    def __init__(self, fig, view: CDSView | None = None):
        self.fig = fig
        # one row off the plot (NaN: drawn nowhere): BokehJS draws an entry's symbol (a marker,
        # a line sample) with its renderer's first row's visuals; over an empty source the
        # entry is blank
        self.source = ColumnDataSource({"x": [float("nan")], "y": [float("nan")]},
                                       name=SOURCE_NAME)
        self.view = view if view is not None else CDSView()

    def add(self, glyph, name=None):
        """A renderer of ``glyph`` (whose fields are ``x``/``y``) that draws nothing: list it in
        a :class:`~bokeh.models.LegendItem` in place of the renderer whose look it copies."""
        return self.fig.add_glyph(self.source, glyph, view=self.view, name=name)
