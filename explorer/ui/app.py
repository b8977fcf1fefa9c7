"""The explorer app: controls, map, comparison plots and the queried points, for one session.

``ExplorerApp(prepared)`` is a Viewer: it displays inline in Jupyter and, through
:meth:`ExplorerApp.template`, as the served page (``panel serve apps/anchoral.py`` or
``anchoral serve``). Each instance owns its :class:`ExplorerState`; only the prepared pool (read
only) is shared between sessions, through :func:`load_prepared`.
"""

from __future__ import annotations

import html
import os
import threading

import panel as pn
import param

from ..exceptions import ParameterError
from ..options import PrepareOptions
from .actions import ExportPanel, ForkPreview, SessionPanel
from .branching import fork as fork_run
from . import notebook, opening, panel_patch, sessions
from .controls import ControlsView, MapControls
from .jobs import hold, make_scheduler
from .curves import CurvesView
from .explore import ExploreView
from .labelling import LabelQueue
from .lesson import ProjectionView, SummaryLine, TwoRunsView
from .map import MapView, map_title
from .state import ExplorerState
from .table import QueriesTable

TITLE = "AnchorAL Explorer"

panel_patch.apply()  # messages Panel leaves queued with no writer are sent (docs/design.md)
panel_patch.install_stylesheet_guard()  # a hidden tab's pane keeps the page's CSS URLs local


def load_prepared(source="sample", options=None, **keywords):
    """The prepared pool for ``source``, shared read-only by every session of this server.

    ``options`` (a :class:`~explorer.options.PrepareOptions`) and ``keywords`` (any of its
    fields) are combined by :meth:`~explorer.options.PrepareOptions.of`; equal options share
    one cached pool. ``"synthetic:N"`` gives a synthetic pool of N 384-d rows (generated
    vectors, real UMAP path, both cached under ``cache_dir``); anything else goes through
    :func:`explorer.prepare.prepare` (shipped vectors and coordinates for the sample).
    """
    return _load_prepared(str(source), PrepareOptions.of(options, **keywords))


@pn.cache(max_items=4, hash_funcs={PrepareOptions: lambda o: repr(o).encode()})
def _load_prepared(source, options):
    from ..prepare import default_cache_dir, prepare
    from .synthetic import is_synthetic, parse, synthetic_prepared

    if is_synthetic(source):
        return synthetic_prepared(parse(source), options.replace(
            cache_dir=options.cache_dir or default_cache_dir()))
    return prepare(source, options, progress=False)


def show(source="sample", options=None, **settings):
    """The explorer on ``source`` in one call: load (cached) and build the app.

    Parameters
    ----------
    source : str
        ``"sample"`` (shipped), ``"brown"`` / ``"wordnet"`` (after ``anchoral fetch``),
        ``"synthetic:N"``, or a ``.csv`` / ``.parquet`` / ``.jsonl`` file with a text and a
        label column.
    options : PrepareOptions, optional
        How to load the pool (:class:`~explorer.options.PrepareOptions`).
    **settings
        Any :class:`~explorer.options.PrepareOptions` field (``text_col``, ``label_col``,
        ``minority``, ``index``, ...; combined with ``options``), and the initial settings of
        the session (``filters=["anchoral", "full"]``, ``query_size=25``,
        ``strategy="badge"``, ...): see :class:`~explorer.ui.state.ExplorerState`.

    Returns
    -------
    ExplorerApp
        Display it as a cell's last expression; drive it from code through ``app.state``.
    """
    keywords = {k: settings.pop(k) for k in PrepareOptions.names() if k in settings}
    options = PrepareOptions.of(options, **keywords)
    prepared = load_prepared(str(source), options)
    name = str(source)
    return ExplorerApp(prepared, dataset=name, datasets=[name], load_options=options,
                       **settings)


class ExplorerApp(pn.viewable.Viewer):
    """The whole explorer for one session.

    Parameters
    ----------
    prepared : Prepared
        The pool to explore (shared, never mutated).
    datasets : list of str
        Dataset choices offered in the page; choosing one loads it with :func:`load_prepared`.
    dataset : str
        The name of ``prepared`` among ``datasets``.
    experiment_factory : callable, optional
        Passed to :class:`ExplorerState` (tests inject a stub engine here).
    load_options : PrepareOptions or dict, optional
        How ``dataset`` was loaded (:class:`~explorer.options.PrepareOptions`): another
        dataset chosen in the page is loaded with the same options.
    session_dir : str, optional
        A session directory to open (resume) when the page loads (``anchoral serve --session``).
    session_root : str, None or False
        Where the page's Session card may open or save directories: ``None`` anywhere (a local
        server), a directory (``--session-root``), ``False`` nowhere (a network server without
        a root). See :func:`explorer.ui.sessions.session_path`.
    **settings
        Initial values of :class:`ExplorerState` settings (``filters``, ``query_size``, ...).
    """

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, prepared, *, datasets=None, dataset="sample", experiment_factory=None,
                 load_options=None, session_dir=None, session_root=None, **settings):
        notebook.extension()  # in a Jupyter kernel: the Panel extensions it needs, inline
        super().__init__(state=ExplorerState(prepared, experiment_factory=experiment_factory,
                                             **settings))
        self._session_dir = session_dir
        self._session_root = session_root
        self._factory = experiment_factory
        self._settings = settings
        self._load_options = PrepareOptions.of(load_options)
        self._datasets = list(datasets or [dataset])
        self._dataset = dataset
        self._loading = pn.pane.Alert("", alert_type="info", visible=False,
                                      sizing_mode="stretch_width")
        self._sidebar = pn.Column(sizing_mode="stretch_width")
        self._main = pn.Column(sizing_mode="stretch_width")
        doc = pn.state.curdoc
        served = doc is not None and doc.session_context is not None
        # a page of a server builds its first document now and the rest once it is drawn
        # (_after_load); ANCHORAL_DEFER_LOAD=0 builds everything at once (to measure)
        self._deferring = served and os.environ.get("ANCHORAL_DEFER_LOAD", "1") != "0"
        self._deferred = []
        self._build()
        if served:
            key = self._opening = id(doc)
            if getattr(doc.session_context, "server_context", None) is not None:
                opening.OPENINGS.opened(key)  # not the server's warm-up page: no browser
                if session_dir:  # busy until the session opens (on load): a Run N clicked
                    # before that started a new experiment beside it, whose rounds were saved
                    # without the session's note of the running work
                    self.state.job.begin(f"Opening session {session_dir}…")

            def destroyed(ctx):
                opening.OPENINGS.drawn(key)
                self.state.close()  # a closed tab releases its session directory (the lock)

            pn.state.on_session_destroyed(destroyed)
            pn.state.onload(self._on_load)

    def _after_load(self, make):
        """The view ``make()`` builds: now, or on a page of a server, once the browser has drawn
        the first document and no other page is still drawing its own
        (:mod:`explorer.ui.opening`: a class opening one server gets every map first)."""
        if not self._deferring:
            return make()
        holder = pn.Column(sizing_mode="stretch_width")
        self._deferred.append((holder, make))
        return holder

    def _build_rest(self, doc, waited=0.0):
        """Build the deferred views, after the other pages still drawing (at most
        ``opening.PATIENCE_S``), in one message to the browser."""
        if self._deferred and waited < opening.PATIENCE_S and \
                opening.OPENINGS.others_drawing(self._opening):
            doc.add_timeout_callback(lambda: self._build_rest(doc, waited + opening.POLL_S),
                                     int(opening.POLL_S * 1000))
            return
        deferred, self._deferred, self._deferring = self._deferred, [], False
        from panel.io.state import set_curdoc

        with set_curdoc(doc), hold(doc):
            for holder, make in deferred:
                holder.objects = [make()]

    def _on_load(self):
        st = self.state
        doc = pn.state.curdoc
        ctx = doc.session_context if doc is not None else None
        opening.OPENINGS.drawn(self._opening)
        # also on the server's warm-up page (no browser), so the first person's page finds the
        # deferred views' code warm (its curves took 0.35 s to build, later pages' 0.07 s)
        self._build_rest(doc)
        if getattr(ctx, "server_context", None) is None:
            return  # the warm-up page opens no session: nothing would release its lock
        if self._session_dir:
            st.job.reset(st.job.param.status.default)  # the page's wait ends; the opening starts
            sessions.open_session(st, self._session_dir, make_scheduler(), typed=False)
        elif st.annotate_data:
            st.start(1, make_scheduler())  # the first batch to label

    def _build(self):
        st = self.state
        st.source = self._dataset
        st.session_root = self._session_root  # where the page may open or save sessions
        self.controls = ControlsView(state=st, datasets=self._datasets, dataset=self._dataset)
        self.controls.dataset_select.param.watch(self._dataset_changed, "value")
        self.map = MapView(state=st)
        self.explore = ExploreView(state=st, map=self.map)  # neighbours, map selection
        self.map_controls = MapControls(state=st)
        ds = st.prepared.dataset
        title = pn.pane.Str(pn.bind(lambda *_: map_title(st), st.param.run, st.param.round,
                                    st.param.version),
                            styles={"font-weight": "bold", "font-family": "sans-serif",
                                    "font-size": "15px"})
        mode = ("annotate mode: you label every batch" if st.annotate_data else
                "gold labels: simulated, or tick 'Label by hand'")
        about = pn.pane.HTML(html.escape(f"{ds.name}: {ds.n:,} texts, {ds.n_classes} "
                                         f"classes; {mode}"),
                             styles={"font-size": "12px"}, sizing_mode="stretch_width")
        # the first document: buttons, map controls, the map and the labelling queue; every other
        # view is built
        # when the page has drawn them (each view watches the state from then on)
        self._sidebar[:] = [self._loading, self.controls.buttons(), about,
                            self._after_load(lambda: self.explore),
                            self._after_load(lambda: pn.Column(
                                SessionPanel(state=st), ExportPanel(state=st),
                                self.controls.settings(), sizing_mode="stretch_width"))]
        self._main[:] = [
            self.map_controls, title,
            # the queue beside the map, in the first document: labelling (and its keys) starts
            # as soon as the page shows
            pn.Row(self._label_queue(), self.map, sizing_mode="stretch_width"),
            pn.pane.Markdown("#### Preview the next round, or fork the run from the round on "
                             "the map", margin=(0, 10)),
            self._after_load(lambda: ForkPreview(state=st)),
            pn.pane.Markdown("#### Comparison: one line per run, a point per round",
                             margin=(0, 10)),
            self._after_load(lambda: pn.Column(CurvesView(state=st), SummaryLine(state=st),
                                          self._lesson_tabs(), sizing_mode="stretch_width")),
            pn.pane.Markdown("#### Queried points of the run and round on the map",
                             margin=(0, 10)),
            self._after_load(lambda: QueriesTable(state=st)),
        ]

    def _label_queue(self):
        """The batch to label, beside the map: built when labelling by hand first turns on.

        Hidden, it still sat in every first document (26 models) and its seven panes
        re-rendered at every Step; a page that never labels by hand now has neither."""
        st = self.state
        if st.hand:
            return LabelQueue(state=st)
        holder = pn.Column(visible=False, margin=0)

        def build(event):
            if event.new and not holder.objects:
                holder.objects = [LabelQueue(state=st)]
                holder.visible = True
        st.param.watch(build, "label_by_hand")
        return holder

    def _lesson_tabs(self):
        st = self.state
        built = []

        def two_runs():
            built.append(TwoRunsView(state=st))
            return built[-1]

        # dynamic: the two-run map (a second figure of the pool) is built when its tab opens
        tabs = pn.Tabs(("Cost at scale (projection)", pn.Column(
                            pn.pane.Markdown("What a round would cost with a fine-tuned "
                                             "encoder: a projection, not a measurement.",
                                             margin=(0, 10)),
                            ProjectionView(state=st), sizing_mode="stretch_width")),
                       # ParamFunction, not pn.panel(fn, lazy=True): pn.panel hands a plain
                       # function to interact(), which calls it at once, so the view (its map,
                       # a second figure of the pool) was built on every page and updated at
                       # every Step, its tab never opened
                       ("Two runs on one map", pn.param.ParamFunction(two_runs, lazy=True)),
                       dynamic=True, sizing_mode="stretch_width")

        def shown(event):  # the two-run view follows the rounds only while its tab shows
            for view in built:
                view.live = event.new == 1
        tabs.param.watch(shown, "active")
        return tabs

    @classmethod
    def from_data(cls, source, options=None, **settings) -> "ExplorerApp":
        """The explorer on a file or built-in pool in one call (see
        :func:`show`): ``ExplorerApp.from_data("my.csv", text_col="body",
        label_col="tag", filters=["anchoral", "full"])``."""
        return show(source, options, **settings)

    # ------------------------------------------------------- verbs on the session, from code
    def fork(self, strategy=None, **params) -> str:
        """Branch the run on the map after the round on the map (synchronously, from code).

        ``params`` are AnchorAL / model settings to change (``n_neighbors=20``,
        ``subpool_size=500``, ...), ``strategy`` another base strategy. Returns the new run's
        key, which joins the comparison and is shown on the map.
        """
        before = list(self.state.runs)
        schedule = self.state.job.schedule or make_scheduler()
        if not fork_run(self.state, schedule, strategy=strategy, **params):
            raise ParameterError(self.state.job.error)
        self.state.wait()
        if self.state.job.error:
            raise ParameterError(self.state.job.error)
        return next(k for k in self.state.runs if k not in before)

    def save(self, path) -> str:
        """Save the comparison so far as a session directory (every later round goes there
        too); returns the directory. Open it again with ``anchoral serve DATA --session``."""
        if not sessions.save_session(self.state, path):
            raise ParameterError(self.state.job.error)
        return self.state.session_dir

    def export(self, what="rounds", fmt="parquet") -> bytes:
        """The ``labels`` / ``rounds`` / ``queries`` table (``csv``, ``parquet``, ``jsonl``)
        or the ``plots`` (``png``, ``html``), as bytes (what the page's Export card downloads)."""
        return sessions.export_bytes(self.state, what, fmt)

    # ------------------------------------------------------------------------- datasets
    def _dataset_changed(self, event):
        source = event.new
        if source == self._dataset or source is None:
            return
        self.state.reset()
        self._loading.object = f"Loading {source}…"
        self._loading.visible = True
        schedule = make_scheduler()

        def work():
            try:
                prepared = load_prepared(source, self._load_options)
            except Exception as err:  # shown in the page; the previous pool stays
                msg = str(err)
                schedule(lambda: self._loaded(source, None, msg))
                return
            schedule(lambda: self._loaded(source, prepared, ""))

        threading.Thread(target=work, daemon=True, name="anchoral-load").start()

    def _loaded(self, source, prepared, error):
        if prepared is None:
            self._loading.alert_type = "danger"
            self._loading.object = html.escape(f"Could not load {source}: {error}")
            self.controls.dataset_select.value = self._dataset
            return
        self._loading.visible = False
        self._dataset = source
        self.state.close()
        self.state = ExplorerState(prepared, experiment_factory=self._factory, **self._settings)
        self._build()

    # --------------------------------------------------------------------------- layout
    def template(self):
        """The served page: settings in the sidebar, map and plots in the main area."""
        # Bootstrap: every resource is served by this server (Fast fetches a web font). The
        # components use Panel's Native design: the Bootstrap design puts the whole Bootstrap
        # stylesheet and its theme into every component's shadow root (~3,000 sheets a page),
        # and each re-render (a button enabled, a status line) recalculates them all
        # (docs/benchmarks.md, "A light page")
        # scripts the page runs after BokehJS, before its documents render: Panel's config,
        # because the Bootstrap template leaves a template's own js_files out of its page
        pn.config.js_files.update(panel_patch.page_scripts())
        return pn.template.BootstrapTemplate(
            title=TITLE, sidebar=[self._sidebar], main=[self._main], sidebar_width=340,
            header_background="#2f3e46", design=panel_patch.page_design())

    def __panel__(self):
        return pn.Row(pn.Column(self._sidebar, width=330), self._main,
                      sizing_mode="stretch_width")

    def _repr_mimebundle_(self, include=None, exclude=None):
        # Jupyter displays the app: stylesheets Panel adds after this first render come from
        # the Jupyter server, not Panel's CDN (explorer.ui.notebook.serve_styles_locally)
        bundle = super()._repr_mimebundle_(include, exclude)
        if notebook.in_notebook():
            notebook.serve_styles_locally([self.map.fig.document])
        return bundle
