"""The cost-lesson state (no browser): class palette, summary line, projection, two runs, rule."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from explorer.compare import compare_runs
from explorer.ui.lesson_state import TwoRunsState, projection, projection_rows, summary_line
from explorer.ui.records import CLASS_LIGHT, CLASS_STRONG, class_colors
from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import synthetic_prepared


@pytest.fixture(scope="module")
def pool():
    return synthetic_prepared(3000, dim=16, minority_share=0.05)


def test_lesson_state_imports_no_panel():
    code = ("import sys, explorer.ui.lesson_state; "
            "bad = [m for m in ('panel', 'bokeh', 'holoviews') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_class_colours_stay_distinct_up_to_twenty():
    assert len(set(CLASS_STRONG + CLASS_LIGHT)) == 20
    brown = ["adventure", "belles_lettres", "editorial", "fiction", "government", "hobbies",
             "humor", "learned", "lore", "mystery", "news", "religion", "reviews", "romance",
             "science_fiction"]
    colours = class_colors(brown, (6, 11, 12, 14))  # humor, religion, reviews, science_fiction
    assert len(set(colours.values())) == 15  # was: adventure and science_fiction both orange
    assert [colours[c] for c in ("humor", "religion", "reviews", "science_fiction")] == \
        list(CLASS_STRONG[:4])
    assert colours["adventure"] == CLASS_LIGHT[0]
    for n_minority in (0, 1, 5, 10, 19):
        names = [f"c{i}" for i in range(20)]
        assert len(set(class_colors(names, range(n_minority)).values())) == 20


def test_summary_projection_and_two_runs_follow_the_rounds(pool):
    st = ExplorerState(pool, filters=["anchoral", "full"])
    two = TwoRunsState(st)
    assert summary_line(st) == "" and two.comparison() is None
    st.step()
    st.step()
    two.sync()
    assert summary_line(st).startswith("AnchorAL scored ")
    assert (two.run_a, two.run_b, two.round) == ("anchoral/entropy", "full/entropy", 2)
    cmp = two.comparison()
    exp = st.experiment.session.experiment
    ref = compare_runs(exp.rounds_frame(), "anchoral/entropy", "full/entropy",
                       classes=pool.dataset.classes)
    assert cmp.counts.equals(ref.counts)
    assert int(cmp.counts.loc["total"].sum()) == len(cmp.points) <= 2 * 2 * 25
    frame = two.export_frame()
    assert frame.columns.tolist() == ["id", "group", "run_a", "run_b", "label", "round_a",
                                      "round_b", "text"]
    two.round = 1  # an earlier round stays put when the next one is recorded
    st.step()
    two.sync()
    assert two.round == 1 and two.last_common_round() == 3
    table, sentence = projection(st)
    rows = projection_rows(table)
    assert rows["pool rows"].tolist()[0] == "3,000 (this pool)"
    assert table["full_texts"].iloc[0] == st.history["full/entropy"][-1].result.n_unlabelled
    assert sentence.startswith("A projection, not a measurement: the fine-tuned encoder costs")


def test_minority_rule_is_one_call(pool):
    st = ExplorerState(pool)
    counts = pool.dataset.class_counts()
    assert len(counts) == 2
    st.minority = []
    assert st.apply_minority_rule("rarest") == [pool.dataset.classes[int(np.argmin(counts))]]


def test_the_two_runs_tab_is_built_when_it_opens(pool, monkeypatch):
    """The "Two runs on one map" view (a second map of the pool, updated every round) is built
    when its tab first opens, not with every page (``pn.panel(fn, lazy=True)`` called ``fn`` at
    once: the view was built and updated on every page, its tab never opened)."""
    import panel as pn

    from explorer.ui import app as app_module

    built = []

    class Counted(app_module.TwoRunsView):
        def __init__(self, **params):
            built.append(1)
            super().__init__(**params)

    monkeypatch.setattr(app_module, "TwoRunsView", Counted)
    view = app_module.ExplorerApp(pool)
    tabs = view._lesson_tabs()
    assert isinstance(tabs, pn.Tabs) and tabs.dynamic
    tabs.get_root()
    assert built == []  # the projection tab shows; the two-runs view does not exist
    tabs.active = 1
    pn.panel(tabs[1]).get_root()
    assert built == [1]


def test_the_two_runs_view_follows_rounds_only_while_its_tab_shows(pool, monkeypatch):
    """A hidden tab's panes re-rendered at every Step, and its detached DataFrame pane rewrote
    the page's shared stylesheet URLs (the browser re-read every stylesheet of the page): the
    view sleeps while its tab is hidden and catches up when it shows again."""
    import panel as pn

    from explorer.ui import app as app_module

    built = []

    class Counted(app_module.TwoRunsView):
        def __init__(self, **params):
            super().__init__(**params)
            built.append(self)

    monkeypatch.setattr(app_module, "TwoRunsView", Counted)
    view = app_module.ExplorerApp(pool)
    tabs = view._lesson_tabs()
    tabs.get_root()
    tabs.active = 1
    pn.panel(tabs[1]).get_root()
    (two_runs,) = built
    assert two_runs.live
    synced = two_runs.two.synced
    view.state.version += 1  # a round recorded while the tab shows: followed
    assert two_runs.two.synced == synced + 1
    tabs.active = 0
    assert not two_runs.live
    view.state.version += 1  # while hidden: nothing recomputed
    view.state.version += 1
    assert two_runs.two.synced == synced + 1
    tabs.active = 1  # shown again: caught up once
    assert two_runs.live and two_runs.two.synced == synced + 2


def test_the_labelling_queue_is_built_when_labelling_by_hand_turns_on(pool):
    """Hidden, the queue sat in every first document (26 models) and re-rendered at every
    Step: a page builds it when 'Label by hand' is first ticked."""
    from explorer.ui import app as app_module
    import panel as pn

    view = app_module.ExplorerApp(pool)
    (row,) = [o for o in view._main if isinstance(o, pn.Row)]  # the queue beside the map
    holder = row.objects[0]
    assert holder.objects == [] and not holder.visible
    view.state.label_by_hand = True
    (queue,) = holder.objects
    assert "anchoral-queue" in queue.css_classes and holder.visible
    view.state.label_by_hand = False  # built once; its own box hides and shows it
    view.state.label_by_hand = True
    assert len(holder.objects) == 1
