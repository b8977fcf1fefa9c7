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
