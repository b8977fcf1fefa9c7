"""Legend entries drawn from stand-in renderers that never change, so new data does not redraw them.

BokehJS re-renders a legend's entries (one new canvas each) whenever any model reachable from
its items changes, the items' renderers' data sources included (``LegendView`` connects
``on_transitive_change(items, recursive=True)``). A legend over the layers of the map and the
runs of the curves was therefore rebuilt five to eleven times per Step, for the same picture.
Here each entry points at a *stand-in*: a renderer with the entry's look over one empty source
that is never changed (one row at NaN, drawn nowhere); the real renderers, whose data change every round, are not referenced by
the legend. The stand-ins draw nothing. Costs two models per entry (renderer, glyph).
"""

from __future__ import annotations

from bokeh.models import CDSView, ColumnDataSource

__all__ = ["StandIns"]


class StandIns:
    """The stand-in renderers of one figure's legend (one empty source and view, shared)."""

    def __init__(self, fig, view: CDSView | None = None, row=False):
        self.fig = fig
        # ``row``: one row off the plot (NaN: drawn nowhere), for markers: BokehJS draws a
        # Scatter entry's symbol from its renderer's first row (an empty source: a blank symbol)
        nan = [float("nan")] if row else []
        self.source = ColumnDataSource({"x": nan, "y": list(nan)}, name="legend-stand-ins")
        self.view = view if view is not None else CDSView()

    def add(self, glyph, name=None):
        """A renderer of ``glyph`` (whose fields are ``x``/``y``) that draws nothing: list it in
        a :class:`~bokeh.models.LegendItem` in place of the renderer whose look it copies."""
        return self.fig.add_glyph(self.source, glyph, view=self.view, name=name)
