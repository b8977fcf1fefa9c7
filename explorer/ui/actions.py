"""Session, export, fork and preview controls: thin widgets over the sessions and branching helpers."""

from __future__ import annotations

import html
import io

import panel as pn
import param

from . import branching, sessions
from .busy import ButtonRow
from .jobs import make_scheduler
from ..registry import ANCHOR_STRATEGIES, names
from .records import STRATEGY_CHOICES, run_label
from .state import ExplorerState

EXPORTS = (("labels", "csv", "Labels CSV"), ("labels", "parquet", "Labels Parquet"),
           ("labels", "jsonl", "Labels JSONL"), ("rounds", "csv", "Rounds CSV"),
           ("plots", "png", "Plots PNG"), ("plots", "html", "Plots HTML"))


class SessionPanel(pn.viewable.Viewer):
    """Open a saved session directory, or save the comparison so far as one."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        w = pn.widgets
        self.path = w.TextInput(label="Session directory", placeholder="e.g. ~/labels/spam-1",
                                value=st.session_dir, sizing_mode="stretch_width")
        job = st.job
        self.open_button = w.Button(label="Open session", button_type="default")
        self.save_button = w.Button(label="Save as session", button_type="default")
        self.buttons = ButtonRow(self.open_button, self.save_button, disabled=job.param.busy)
        self.open_button.on_click(
            lambda e: sessions.open_session(st, self._path(), make_scheduler()))
        self.save_button.on_click(lambda e: sessions.save_session(st, self._path()))
        self.info = pn.pane.HTML(st.param.session_dir.rx.pipe(_saving_to), margin=(0, 10),
                                 sizing_mode="stretch_width")
        st.param.watch(self._show_path, "session_dir")

    def _path(self):
        import os

        return os.path.expanduser(self.path.value_input or self.path.value or "")

    def _show_path(self, event):
        if event.new and not self.path.value:
            self.path.value = event.new

    def __panel__(self):
        return pn.Card(self.info, self.path, self.buttons,
                       title="Session", collapsed=False, sizing_mode="stretch_width")


def _saving_to(session_dir) -> str:
    if session_dir:
        return (f'<div style="font-size:12px">Saving every round to '
                f"<code>{html.escape(session_dir)}</code></div>")
    return ('<div style="font-size:12px;color:#666">Not saved: give a directory and press '
            "Save as session.</div>")


class ExportPanel(pn.viewable.Viewer):
    """Download buttons: labels (CSV/Parquet/JSONL), the rounds table, the plots (PNG/HTML)."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        self.buttons = []
        for what, fmt, label in EXPORTS:
            b = pn.widgets.FileDownload(
                callback=self._callback(what, fmt), filename=f"anchoral-{what}.{fmt}",
                label=label, button_type="light", embed=False, width=140)
            self.buttons.append(b)
        self.error = pn.pane.Alert("", alert_type="danger", visible=False,
                                   sizing_mode="stretch_width")

    def _callback(self, what, fmt):
        def make():
            from ..exceptions import ExplorerError

            try:
                data = sessions.export_bytes(self.state, what, fmt)
            except ExplorerError as err:
                self.error.object = html.escape(str(err))
                self.error.visible = True
                return None
            self.error.visible = False
            return io.BytesIO(data)
        return make

    def __panel__(self):
        return pn.Card(pn.FlexBox(*self.buttons), self.error, title="Export",
                       collapsed=True, sizing_mode="stretch_width")


class ForkPreview(pn.viewable.Viewer):
    """'Preview next round' and 'Fork from this round' with other settings."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        w = pn.widgets
        self.strategy = w.Select(label="Strategy", options=list(STRATEGY_CHOICES),
                                 value=st.strategy, width=130)
        self.n_anchors = w.IntInput(label="Anchors/class", value=st.n_anchors, start=1,
                                    width=130)
        self.n_neighbors = w.IntInput(label="k", value=st.n_neighbors, start=1,
                                      width=90)
        self.subpool_size = w.IntInput(label="M", value=st.subpool_size, start=1,
                                       width=130)
        self.anchor_strategy = w.Select(label="Anchor choice",
                                        options=list(names(ANCHOR_STRATEGIES)),
                                        value=st.anchor_strategy, width=130)
        # no run yet: the buttons' own state; work running: their row's (explorer/ui/busy.py)
        unready = pn.bind(self._unready, st.param.run, st.param.version)
        self.preview_button = w.Button(label="Preview next round", button_type="default",
                                       width=170, disabled=unready)
        # a fixed label: a new label re-renders the button whole in the browser, every Step
        self.fork_button = w.Button(label="Fork from this round", button_type="default",
                                    width=170, disabled=unready)
        self.buttons = ButtonRow(self.preview_button, self.fork_button,
                                 disabled=st.job.param.busy)
        self.preview_button.on_click(self._preview)
        self.fork_button.on_click(self._fork)
        self.result = pn.pane.HTML(pn.bind(_preview_text, st.param.preview), margin=(0, 10),
                                   sizing_mode="stretch_width", css_classes=["anchoral-preview"])

    def _unready(self, run, version) -> bool:
        return self.state.experiment is None or run is None

    def _params(self):
        return dict(n_anchors=self.n_anchors.value, n_neighbors=self.n_neighbors.value,
                    subpool_size=self.subpool_size.value,
                    anchor_strategy=self.anchor_strategy.value)

    def _preview(self, event):
        branching.preview_next(self.state, make_scheduler(), self.strategy.value,
                               **self._params())

    def _fork(self, event):
        branching.fork(self.state, make_scheduler(), self.strategy.value, **self._params())

    def __panel__(self):
        return pn.Column(
            pn.FlexBox(self.strategy, self.n_anchors, self.n_neighbors, self.subpool_size,
                       self.anchor_strategy,
                       pn.Column(pn.Spacer(height=18), self.buttons)),
            self.result, sizing_mode="stretch_width")


def _preview_text(p) -> str:
    """The preview's subpool, anchors and class mix (names escaped), or what Preview does."""
    if p is None:
        return ('<div style="font-size:12px;color:#666">Preview: what these settings would '
                "retrieve next, without changing the session. Fork: a new run from the round "
                "on the map.</div>")
    total = sum(p.mix.values()) or 1
    mix = " · ".join(f"{html.escape(k)} {v:,} ({v / total:.0%})" for k, v in p.mix.items())
    return (f'<div style="font-size:13px">Preview of round {p.round} of '
            f'{html.escape(run_label(p.run))} (nothing changed): subpool '
            f'<b>{len(p.subpool):,}</b> rows, {len(p.anchors)} anchors; class mix by '
            f'{p.by} label: {mix}. Shown on the map as cyan rings.</div>')
