"""The queried points of the selected run and round, as a sortable table (text shown as text)."""

from __future__ import annotations

import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter

from .state import ExplorerState

#: Tabulator's plaintext formatter sanitises the value: markup in a text shows as text
_TEXT = {"type": "plaintext"}


class QueriesTable(pn.viewable.Viewer):
    """Escaped text, gold label, score, anchor and similarity of each queried point."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        self.table = pn.widgets.Tabulator(
            st.queries_frame(), show_index=False, disabled=True, sortable=True,
            pagination=None, height=300, sizing_mode="stretch_width", layout="fit_data_fill",
            formatters={"text": _TEXT, "label": _TEXT, "id": NumberFormatter(format="0"),
                        "anchor": NumberFormatter(format="0"),
                        "score": NumberFormatter(format="0.0000"),
                        "similarity": NumberFormatter(format="0.000")},
            widths={"text": 520})
        st.param.watch(self._update, ["run", "round", "version"])

    def _update(self, *events):
        self.table.value = self.state.queries_frame()

    def __panel__(self):
        return self.table
