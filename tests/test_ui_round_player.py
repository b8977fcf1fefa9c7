"""The map's round player (no browser): named buttons step within the recorded rounds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from explorer.ui.controls import MapControls
from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import synthetic_prepared

sys.path.insert(0, str(Path(__file__).parent / "ui"))
from fakes import FakeDriver  # noqa: E402


@pytest.fixture
def controls():
    st = ExplorerState(synthetic_prepared(600, dim=8, minority_share=0.1, projection="generated"),
                       experiment_factory=FakeDriver)
    return MapControls(state=st)


def test_no_round_no_player(controls):
    assert controls.previous.disabled and controls.next.disabled and controls.play.disabled
    assert [controls.previous.label, controls.next.label, controls.play.name] == [
        "Previous round", "Next round", "Play rounds"]
    assert controls.player.visible_buttons == []  # its own buttons have no accessible name


def test_previous_and_next_step_within_the_recorded_rounds(controls):
    st = controls.state
    for _ in range(3):
        st.step()
    assert st.round == 3 and controls.next.disabled and not controls.previous.disabled
    controls.previous.clicks += 1
    assert st.round == 2 and controls.player.value == 2 and not controls.next.disabled
    controls.go(-5)
    assert st.round == 0 and controls.previous.disabled
    controls.next.clicks += 1
    assert st.round == 1
    controls.go(+9)
    assert st.round == 3


def test_playing_shows_each_round_then_stops(controls):
    st = controls.state
    for _ in range(2):
        st.step()
    st.round = 0
    controls.play.value = True
    seen = []
    for _ in range(4):
        controls._tick()
        seen.append(st.round)
    assert seen == [1, 2, 2, 2] and controls.play.value is False
    assert controls._playing is None


def test_a_running_round_shows_a_full_striped_bar_and_an_idle_page_does_not():
    from explorer.ui.controls import ControlsView

    st = ExplorerState(synthetic_prepared(600, dim=8, minority_share=0.1, projection="generated"),
                       experiment_factory=FakeDriver)
    view = ControlsView(state=st, datasets=["toy"], dataset="toy")
    bar = view.progress
    # Step and Run N keep their own state; Open/Save and Preview/Fork are disabled by rows
    assert bar.value == 0 and not bar.active and not view.step_button.disabled
    assert view.cancel_button.disabled
    gen = st.job.begin("Running 1 round…")
    # indeterminate (full, striped) while nothing is done yet; never animated: moving stripes
    # cost the browser a frame every 16 ms for the whole round (issue 20)
    assert bar.value == -1 and not bar.active
    assert view.step_button.disabled and not view.cancel_button.disabled
    st.job.set_progress(gen, 0.5, "Round 1 of 2…")
    assert bar.value == 50 and not bar.active
    st.job.finish(gen, "done: 1 round in 48 ms", progress=1.0)
    assert bar.value == 0 and not bar.active and not view.step_button.disabled
    assert view.cancel_button.disabled


def test_a_served_page_shows_busy_buttons_only_for_work_that_lasts():
    """Served, Step/Run N/Pause-Cancel turn busy only when the work still runs after
    BUTTONS_BUSY_AFTER_MS (a quick Step would re-render each twice for nothing); the status
    and bar say "running" at once, and a click while work runs changes nothing."""
    import weakref

    from bokeh.document import Document
    from panel.io.state import set_curdoc

    from explorer.ui.controls import BUTTONS_BUSY_AFTER_MS, ControlsView

    st = ExplorerState(synthetic_prepared(600, dim=8, minority_share=0.1, projection="generated"),
                       experiment_factory=FakeDriver)
    view = ControlsView(state=st, datasets=["toy"], dataset="toy")
    doc, context = Document(), type("Context", (), {})()
    doc._session_context = weakref.ref(context)
    with set_curdoc(doc):
        gen = st.job.begin("Opening session…")  # work not started by a click: busy at once
        assert view.step_button.disabled and not view.cancel_button.disabled
        st.job.finish(gen, "opened")
        assert not view.step_button.disabled
        assert not [cb for cb in doc.session_callbacks if hasattr(cb, "timeout")]  # no timer
        view._clicked = True  # the rounds of a Step click (ControlsView._start)
        gen = st.job.begin("Running 1 round…")
        view._clicked = False
        assert view.progress.value == -1 and "Running" in view.status.object
        assert not view.step_button.disabled and view.cancel_button.disabled  # not yet
        (timer,) = [cb for cb in doc.session_callbacks if hasattr(cb, "timeout")]
        assert timer.timeout == BUTTONS_BUSY_AFTER_MS
        view._start(1)  # a second click while it runs: ignored, as by a disabled button
        assert st.job.error == "" and st.n_done == 0
        timer.callback()  # still running when the timer fires: busy buttons
        assert view.step_button.disabled and not view.cancel_button.disabled
        st.job.finish(gen, "done")
        assert not view.step_button.disabled and view.cancel_button.disabled  # at once
        # quick work: the timer finds it done and leaves the buttons alone
        view._clicked = True
        gen = st.job.begin("Running 1 round…")
        view._clicked = False
        st.job.finish(gen, "done")
        [cb for cb in doc.session_callbacks if hasattr(cb, "timeout")][-1].callback()
        assert not view.step_button.disabled and view.cancel_button.disabled
