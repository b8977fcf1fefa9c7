"""Controls: settings, the Step / Run N / Pause-Cancel / Reset buttons, progress and errors."""

from __future__ import annotations

import contextlib
import html

import panel as pn
import param

from ..data import MINORITY_RULES, describe_minority, infer_minority
from ..registry import FILTERS, MODELS, SAMPLING
from .jobs import make_scheduler
from .records import run_label
from .state import ExplorerState

__all__ = ["ControlsView", "MapControls", "make_scheduler"]


def _menu(table) -> dict:
    """Display label -> name of a :mod:`explorer.registry` table (a widget's options)."""
    return {choice.label: choice.name for choice in table.values()}


#: a served page disables Step, Run N and enables Pause/Cancel only when work still runs this
#: long after it started: a Step of the sample (~0.3 s in all) otherwise re-renders each of the
#: three buttons twice (BokehJS rebuilds a button whole when its own ``disabled`` changes), for
#: a state nobody sees; the status line and the bar say "running" at once
BUTTONS_BUSY_AFTER_MS = 400


class ControlsView(pn.viewable.Viewer):
    """Every setting of the experiment and the buttons that drive it."""

    state = param.ClassSelector(class_=ExplorerState)
    datasets = param.List(default=[], doc="Dataset choices (sources prepare() accepts).")
    dataset = param.String(default="", doc="The dataset shown.")
    buttons_busy = param.Boolean(default=False, doc=(
        "The buttons show work running: with the job's busy, at once in a notebook, "
        "after BUTTONS_BUSY_AFTER_MS on a served page (shorter work leaves them as they are)."))

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        w = pn.widgets
        self.dataset_select = w.Select(label="Dataset", options=self.datasets or [self.dataset],
                                       value=self.dataset, sizing_mode="stretch_width")
        # CheckBoxGroup, not MultiChoice: MultiChoice renders option labels as HTML, and class
        # names come from the dataset
        self.minority = w.CheckBoxGroup.from_param(st.param.minority, label="Minority class(es)",
                                                   inline=True, sizing_mode="stretch_width")
        # one click re-infers the minority classes with another rule (shown with its result)
        self.minority_rule = w.RadioButtonGroup(
            name="Minority rule", options=list(MINORITY_RULES), button_type="light",
            value=st.prepared.dataset.minority_rule or None, sizing_mode="stretch_width")
        self.minority_rule.param.watch(
            lambda e: e.new and st.apply_minority_rule(e.new), "value")
        st.param.watch(self._minority_by_hand, "minority")
        self.minority_rule_text = pn.pane.HTML(
            pn.bind(self._rule_text, self.minority_rule.param.value, st.param.minority),
            styles={"font-size": "11px", "color": "#555"}, sizing_mode="stretch_width",
            margin=(0, 10))
        self.model = w.Select.from_param(st.param.model, label="Model",
                                         options=_menu(MODELS),
                                         sizing_mode="stretch_width")
        self.strategy = w.Select.from_param(st.param.strategy, label="Base strategy",
                                            sizing_mode="stretch_width")
        self.filters = w.CheckBoxGroup.from_param(
            st.param.filters, label="Filters to compare", inline=True,
            options=_menu(FILTERS))
        ints = dict(sizing_mode="stretch_width")
        self.n_anchors = w.IntInput.from_param(st.param.n_anchors, label="Anchors per class", **ints)
        self.anchor_strategy = w.Select.from_param(st.param.anchor_strategy,
                                                   label="Anchor strategy", **ints)
        self.n_neighbors = w.IntInput.from_param(st.param.n_neighbors, label="k neighbours", **ints)
        self.subpool_size = w.IntInput.from_param(st.param.subpool_size,
                                                  label="Subpool size M (empty: default)", **ints)
        self.sampling = w.Select.from_param(st.param.sampling, label="Subpool",
                                            options=_menu(SAMPLING),
                                            **ints)
        self.minority_only = w.Checkbox.from_param(st.param.minority_only,
                                                   label="Anchors from minority classes only")
        self.query_size = w.IntInput.from_param(st.param.query_size, label="Query size", **ints)
        self.init_size = w.IntInput.from_param(st.param.init_size, label="Initial labelled", **ints)
        self.n_rounds = w.IntInput.from_param(st.param.n_rounds, label="Rounds (Run N)", **ints)
        self.seed = w.IntInput.from_param(st.param.seed, label="Seed", **ints)
        self.label_by_hand = w.Checkbox.from_param(
            st.param.label_by_hand, label="Label by hand (gold labels only for agreement)",
            disabled=st.annotate_data)

        # no icons: they load a web font from a CDN, and the app serves only from its host
        self.step_button = w.Button(label="Step", button_type="primary")
        self.run_button = w.Button(label="Run N rounds", button_type="primary")
        self.cancel_button = w.Button(label="Pause/Cancel", button_type="warning")
        self.reset_button = w.Button(label="Reset", button_type="default")
        self.step_button.on_click(lambda e: self._start(1))
        self.run_button.on_click(lambda e: self._start(self.state.n_rounds))
        self.cancel_button.on_click(lambda e: self.state.cancel())
        self.reset_button.on_click(lambda e: self.state.reset())

        job = st.job
        # Step and Run N keep their own state (a re-render each when work starts and ends): in
        # a loaded JupyterLab, three runs in a row lost the inline Step's click while they sat
        # in a ButtonRow, and three quiet runs did not; the cause is not pinned down
        # (docs/design.md, "Busy rows"), so the notebook's main button takes no chance
        self._busy_count = 0
        self._clicked = False  # inside a Step / Run N click (only those rounds delay the busy)
        job.param.watch(self._follow_busy, "busy")
        self.step_button.disabled = self.param.buttons_busy
        self.run_button.disabled = pn.bind(lambda busy, hand: busy or hand,
                                           self.param.buttons_busy, st.param.label_by_hand)
        self.start_row = pn.Row(self.step_button, self.run_button, sizing_mode="stretch_width")
        # its own state: a row disabled when the page opens does not reach its buttons
        self.cancel_button.disabled = self.param.buttons_busy.rx.not_()
        # while work runs and has no share done yet the bar is indeterminate (-1: full and
        # striped), so a running round always shows; otherwise the share done. Not animated
        # (``active``): moving stripes repaint at every frame, and each frame of this page costs
        # the browser 4-8 ms of its main thread (styles, layers, commit) for as long as a round
        # runs; the status line, the disabled Step and the enabled Pause/Cancel say it runs
        self.progress = w.Progress(
            label="Progress", max=100, sizing_mode="stretch_width", height=14, active=False,
            value=pn.bind(lambda busy, frac, n: -1 if busy and frac == 0 else
                          int(round(100 * frac)) if busy or n else 0,
                          job.param.busy, job.param.progress, st.param.n_done))
        # HTML (escaped), not Str: a <pre> does not wrap in the narrow sidebar
        self.status = pn.pane.HTML(job.param.status.rx.pipe(html.escape),
                                   styles={"font-size": "12px"}, sizing_mode="stretch_width",
                                   margin=(0, 10))
        # errors may quote dataset values (class names, paths): escape before markdown renders
        self.error = pn.pane.Alert(job.param.error.rx.pipe(html.escape), alert_type="danger",
                                   visible=job.param.error.rx.bool(),
                                   sizing_mode="stretch_width")
        job.param.watch(self._resend_when_done, "busy")
        self.stale = pn.pane.Alert("Settings changed: press **Reset** to start over with them.",
                                   alert_type="warning", visible=st.param.stale,
                                   sizing_mode="stretch_width")

    def _resend_when_done(self, event):
        """When work ends, send the status line and the bar once more, on the next tick.

        A safety net for issue 20's stale status (docs/design.md, "Panel's write queue"): in
        about one full browser run in three a page kept a job's earlier status ("Round 1:
        AnchorAL · entropy done") while every later change, Pause/Cancel disabled included,
        arrived. A change Panel makes while the document is not unlocked is applied on a next
        tick with the value of that moment, so it can land after a newer one; next-tick
        callbacks run in order, so this one, added when the job ends, sends the final values last.
        """
        import panel as pn

        doc = pn.state.curdoc
        if event.new or doc is None or doc.session_context is None:
            return

        def resend():
            self.status.param.trigger("object")
            self.progress.param.trigger("value")
        doc.add_next_tick_callback(resend)

    def _minority_by_hand(self, event):
        """A box ticked by hand: the rule no longer describes the choice."""
        rule = self.minority_rule.value
        if rule:
            ds = self.state.prepared.dataset
            if sorted(event.new) != sorted(ds.classes[c] for c in
                                           infer_minority(ds.class_counts(), rule)):
                self.minority_rule.value = None

    def _rule_text(self, rule, minority) -> str:
        ds = self.state.prepared.dataset
        counts = ds.class_counts()
        share = sum(counts[ds.classes.index(m)] for m in minority) / max(counts.sum(), 1)
        head = (html.escape(describe_minority(counts, rule)) if rule else
                "chosen by hand or given")
        return f"Rule {head}; minority {100 * share:.1f} % of the labelled rows."

    def _follow_busy(self, event):
        """:attr:`buttons_busy` follows the job: off at once; on after a delay for the rounds of
        a Step / Run N click on a served page, at once for any other work (a session opening
        when the page loads: a click then would race it)."""
        self._busy_count += 1
        doc = pn.state.curdoc
        if not event.new or not self._clicked or doc is None or doc.session_context is None:
            self.buttons_busy = event.new
            return
        count = self._busy_count

        def show():
            if self.state.job.busy and self._busy_count == count:
                self.buttons_busy = True
        doc.add_timeout_callback(show, BUTTONS_BUSY_AFTER_MS)

    def _start(self, n):
        if self.state.job.busy:  # a click before the buttons show it: as on a disabled button
            return
        # served: the busy state (buttons, progress, status) in one message to the browser,
        # not eight (a notebook's comm sends as before)
        doc = pn.state.curdoc
        served = doc is not None and doc.session_context is not None
        self._clicked = True
        try:
            with pn.io.hold(doc, policy="collect") if served else contextlib.nullcontext():
                self.state.start(n, make_scheduler())
        finally:
            self._clicked = False

    def buttons(self):
        return pn.Column(
            self.start_row,
            pn.Row(self.cancel_button, self.reset_button, sizing_mode="stretch_width"),
            self.progress, self.status, self.error, self.stale,
            sizing_mode="stretch_width")

    def settings(self):
        return pn.Column(
            self.dataset_select,
            pn.pane.Markdown("**Minority class(es)**", margin=(5, 10, 0, 10)),
            self.minority_rule, self.minority_rule_text, self.minority,
            self.model, self.strategy,
            pn.pane.Markdown("**Filters to compare**", margin=(5, 10, 0, 10)), self.filters,
            pn.Card(self.n_anchors, self.anchor_strategy, self.n_neighbors, self.subpool_size,
                    self.sampling, self.minority_only, title="AnchorAL parameters",
                    collapsed=False, sizing_mode="stretch_width"),
            pn.Row(self.query_size, self.init_size, sizing_mode="stretch_width"),
            pn.Row(self.n_rounds, self.seed, sizing_mode="stretch_width"),
            self.label_by_hand,
            sizing_mode="stretch_width")

    def __panel__(self):
        return pn.Column(self.buttons(), self.settings(), sizing_mode="stretch_width")


class MapControls(pn.viewable.Viewer):
    """Which run and round the map shows, colouring and layer toggles."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, **params):
        super().__init__(**params)
        st = self.state
        w = pn.widgets
        self.run = w.Select(label="Run shown on the map", options={}, width=230)
        # the player's own buttons carry no accessible name (an icon and a CSS class): its
        # slider stays, and named buttons step, play and pause through the rounds
        self.player = w.Player(label="Round (0 = initial set)", start=0, end=1, value=0,
                               interval=900, loop_policy="once", show_loop_controls=False,
                               visible_buttons=[], height=50, width=330, disabled=True,
                               show_value=False)
        self.previous = w.Button(label="Previous round", disabled=True, width=120,
                                 description="Show the round before this one on the map")
        self.next = w.Button(label="Next round", disabled=True, width=110,
                             description="Show the round after this one on the map")
        self.play = w.Toggle(name="Play rounds", disabled=True, width=110)
        self.previous.on_click(lambda e: self.go(-1))
        self.next.on_click(lambda e: self.go(+1))
        self.play.param.watch(self._play_changed, "value")
        self._playing = None
        self.color_by = w.RadioButtonGroup.from_param(st.param.color_by, label="Colour pool by",
                                                      button_type="light", width=290)
        self.layers = w.CheckButtonGroup.from_param(st.param.layers, label="Overlays",
                                                    button_type="light", width=400)
        self.run.param.watch(self._run_changed, "value")
        self.player.param.watch(self._round_changed, "value")
        st.param.watch(self._sync, ["version", "run", "round"])
        self._sync()

    def go(self, delta) -> None:
        """Show the round ``delta`` rounds away on the map (within the recorded rounds)."""
        st = self.state
        target = min(max(st.round + delta, 0), st.last_round())
        if target != st.round:
            st.round = target

    def _play_changed(self, event):
        if event.new and self._playing is None:
            if self.state.round >= self.state.last_round():
                self.state.round = 0  # play from the start
            self._playing = pn.state.add_periodic_callback(self._tick, period=900)
        elif not event.new and self._playing is not None:
            self._playing.stop()
            self._playing = None

    def _tick(self):
        if self.state.round >= self.state.last_round():
            self.play.value = False
        else:
            self.go(+1)

    def _run_changed(self, event):
        if event.new is not None and event.new in self.state.runs:
            self.state.run = event.new

    def _round_changed(self, event):
        st = self.state
        if st.last_round() and event.new != st.round:
            st.round = min(int(event.new), st.last_round())

    def _sync(self, *events):
        # a watcher, not bound references: a two-way sync whose order matters (options before
        # value, the player's end before its value)
        st = self.state
        options = {run_label(k): k for k in st.runs}
        if self.run.options != options:
            self.run.options = options
        self.run.value = st.run
        n = st.last_round()
        self.player.disabled = self.play.disabled = n == 0
        self.previous.disabled = n == 0 or st.round <= 0
        self.next.disabled = n == 0 or st.round >= n
        self.player.end = max(n, 1)
        if self.player.value != st.round:
            self.player.value = st.round

    def __panel__(self):
        return pn.FlexBox(
            self.run,
            pn.Column(self.player, pn.Row(self.previous, self.next, self.play,
                                          sizing_mode="fixed"), sizing_mode="fixed"),
            pn.Column(pn.pane.Str("Colour pool by", margin=(0, 10)), self.color_by),
            pn.Column(pn.pane.Str("Overlays", margin=(0, 10)), self.layers),
            sizing_mode="stretch_width")
