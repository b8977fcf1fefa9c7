"""Pages opening one server at once: a page builds its rest only once no other page is drawing."""

from __future__ import annotations

from explorer.ui.opening import Openings


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_a_page_alone_waits_for_nobody():
    o = Openings(patience_s=15)
    o.opened("a")
    assert not o.others_drawing("a")


def test_a_drawn_page_waits_while_another_still_draws_then_goes_on():
    clock = Clock()
    o = Openings(patience_s=15, clock=clock)
    o.opened("a")
    o.opened("b")
    o.drawn("a")
    assert o.others_drawing("a")  # b has not drawn its map yet
    assert not o.others_drawing("b")  # a has
    o.drawn("b")
    assert not o.others_drawing("a")


def test_a_page_that_never_draws_holds_others_up_for_patience_only():
    clock = Clock()
    o = Openings(patience_s=15, clock=clock)
    o.opened("closed tab")
    o.opened("a")
    o.drawn("a")
    clock.t += 14.9
    assert o.others_drawing("a")
    clock.t += 0.2
    assert not o.others_drawing("a")


def test_drawn_twice_or_unknown_is_harmless():
    o = Openings()
    o.drawn("never opened")
    o.opened("a")
    o.drawn("a")
    o.drawn("a")
    assert not o.others_drawing("b")


def test_the_servers_warm_up_page_builds_its_deferred_views():
    """``pn.serve(warm=True)`` builds one page with no browser and calls its load callbacks:
    that page builds the views a real page defers (plots, table, settings), so the first
    person's page finds their code warm; it registers with no opening and opens no session."""
    import sys
    from pathlib import Path

    import panel as pn
    from panel.io.application import build_applications
    from panel.io.server import generate_session
    from panel.io.state import set_curdoc

    from explorer.ui import opening
    from explorer.ui.app import ExplorerApp
    from explorer.ui.synthetic import synthetic_prepared

    sys.path.insert(0, str(Path(__file__).parent / "ui"))
    from fakes import FakeDriver

    pn.extension("tabulator")
    prepared = synthetic_prepared(600, dim=8, minority_share=0.1, projection="generated")
    apps = []

    def page():
        apps.append(ExplorerApp(prepared, dataset="toy", datasets=["toy"],
                                experiment_factory=FakeDriver))
        return apps[-1].template()

    session = generate_session(build_applications(page)["/"])  # as pn.serve(warm=True)
    (app,) = apps
    holders = [holder for holder, _ in app._deferred]
    assert len(holders) >= 4 and all(not h.objects for h in holders)  # deferred, as served
    with set_curdoc(session.document):
        pn.state._on_load(None)
    assert app._deferred == [] and all(len(h.objects) == 1 for h in holders)
    assert not opening.OPENINGS.others_drawing(None)
    assert app.state.job.status.startswith("Ready")  # no session opened, no round started


def test_a_page_that_opens_a_session_is_busy_until_it_opens(tmp_path):
    """A served page with ``--session`` opens it when the page has loaded; until then Step and
    Run N are disabled (a Run N clicked before started a new experiment beside the session,
    its rounds saved without the session's note of the running work)."""
    import sys
    import weakref
    from pathlib import Path

    import panel as pn
    from bokeh.document import Document
    from panel.io.state import set_curdoc

    from explorer.ui.app import ExplorerApp
    from explorer.ui.synthetic import synthetic_prepared

    sys.path.insert(0, str(Path(__file__).parent / "ui"))
    from fakes import FakeDriver

    pn.extension("tabulator")
    doc = Document()
    context = type("Context", (), {"server_context": object(), "session": None,
                                   "request": type("R", (), {"arguments": {}})()})()
    doc._session_context = weakref.ref(context)
    prepared = synthetic_prepared(600, dim=8, minority_share=0.1, projection="generated")
    with set_curdoc(doc):
        app = ExplorerApp(prepared, dataset="toy", datasets=["toy"],
                          experiment_factory=FakeDriver, session_dir=str(tmp_path / "s"))
        job = app.state.job
        assert job.busy and job.status.startswith("Opening session")
        assert app.controls.step_button.disabled and app.controls.run_button.disabled
        app._on_load()  # the page loaded: the page's wait ends and the opening starts
        job.wait(30)
    # here the directory does not exist: the opening says so, and the page is not left busy
    assert not job.busy and "not found" in job.error and job.status.startswith("Ready")
