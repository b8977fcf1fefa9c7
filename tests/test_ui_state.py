"""The explorer's session state (no Panel, no browser): settings, rounds, threads, cancel, errors."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from explorer.exceptions import ParameterError
from explorer.ui import branching
from explorer.ui.records import run_color, run_label
from explorer.ui.sessions import export_bytes, open_session, save_session
from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import parse, synthetic_prepared

sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent / "ui"))
from fakes import FakeDriver  # noqa: E402


@pytest.fixture(scope="module")
def pool():
    return synthetic_prepared(3000, dim=16, minority_share=0.05, projection="generated")


def direct(cb):
    cb()


def test_state_module_imports_no_panel():
    code = ("import sys, explorer.ui.records, explorer.ui.driver, explorer.ui.jobs, "
            "explorer.ui.queue_state, explorer.ui.settings_state, explorer.ui.state, "
            "explorer.ui.sessions, "
            "explorer.ui.branching, explorer.ui.engine, explorer.ui.serving, "
            "explorer.ui.explore_state, explorer.ui.chosen, explorer.neighbours, "
            "explorer.selection; "
            "bad = [m for m in ('panel', 'bokeh', 'holoviews') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_step_records_every_run_and_follows_the_newest_round(pool):
    st = ExplorerState(pool, experiment_factory=FakeDriver)
    assert st.minority == ["rare"] and st.n_done == 0 and st.round == 0
    st.step()
    assert st.job.error == ""
    assert st.runs == ["anchoral/entropy", "full/entropy"] and st.run == "anchoral/entropy"
    assert st.n_done == 1 and st.round == 1
    st.step()
    assert st.round == 2
    rec = st.record()
    assert len(rec.queried) == 25 and len(rec.anchors) > 0
    assert set(rec.queried).isdisjoint(rec.labelled)
    st.round = 1  # replaying an earlier round: a new round does not move the slider
    st.step()
    assert st.n_done == 3 and st.round == 1


def test_queries_frame_matches_the_selected_round(pool):
    st = ExplorerState(pool, experiment_factory=FakeDriver)
    st.step()
    df = st.queries_frame()
    assert list(df.columns) == ["id", "text", "label", "score", "anchor", "similarity"]
    assert df["id"].tolist() == st.record().queried.tolist()
    assert set(df["label"]) <= {"common", "rare"}


@pytest.mark.parametrize("name, value, match", [
    ("n_neighbors", 0, r"n_neighbors=0 must be >= 1"),
    ("query_size", -5, r"query_size=-5 must be >= 1"),
    ("subpool_size", 0, r"subpool_size=0 must be >= 1"),
    ("n_neighbors", 10_000, r"n_neighbors=10000 must be smaller than the pool"),
    ("filters", [], r"filters=\[\] must name at least one filter"),
    ("minority", [], r"minority=\[\] must name at least one minority class"),
])
def test_invalid_settings_raise_a_clear_error(pool, name, value, match):
    st = ExplorerState(pool, experiment_factory=FakeDriver)
    setattr(st, name, value)
    with pytest.raises(ParameterError, match=match):
        st.validate()
    st.step()  # the app path: no exception, the message lands in .error
    assert st.job.error and not st.job.busy and st.n_done == 0


def test_every_minority_class_is_an_error(pool):
    st = ExplorerState(pool, experiment_factory=FakeDriver, minority=["common", "rare"])
    with pytest.raises(ParameterError, match=r"names every class"):
        st.validate()


def test_start_runs_in_a_thread_and_cancel_stops_within_a_round(pool):
    st = ExplorerState(pool, experiment_factory=lambda p, **kw: FakeDriver(p, delay=0.05, **kw))
    started = threading.Event()
    st.param.watch(lambda e: started.set(), "n_done")
    assert st.start(50, direct)
    assert st.job.busy
    assert started.wait(10)
    st.cancel()
    st.wait(10)
    assert not st.job.busy
    assert 1 <= st.n_done < 50
    assert st.job.status.startswith("Cancelled")
    # the history of every run has the same length: cancel never leaves a half round applied
    assert len({len(v) for v in st.history.values()}) == 1


def test_second_start_while_busy_is_refused(pool):
    st = ExplorerState(pool, experiment_factory=lambda p, **kw: FakeDriver(p, delay=0.05, **kw))
    assert st.start(5, direct)
    assert not st.start(1, direct)
    assert "already in progress" in st.job.error
    st.cancel()
    st.wait(10)


def test_reset_discards_late_results_of_the_old_experiment(pool):
    pending = []
    st = ExplorerState(pool, experiment_factory=FakeDriver)
    st.start(1, pending.append)  # results are held back, as on a busy event loop
    st.wait(10)
    st.reset()
    for cb in pending:
        cb()
    assert st.n_done == 0 and st.history == {} and not st.job.busy


def test_settings_change_after_rounds_marks_state_stale(pool):
    st = ExplorerState(pool, experiment_factory=FakeDriver)
    st.step()
    st.query_size = 10
    assert st.stale and "Reset" in st.job.status
    st.reset()
    assert not st.stale
    st.step()
    assert len(st.record().queried) == 10


def test_real_engine_round_has_provenance(pool):
    st = ExplorerState(pool, filters=["anchoral", "full", "randsub", "seals"], subpool_size=300)
    st.step()
    assert st.job.error == ""
    anchoral = st.record("anchoral/entropy", 1)
    full = st.record("full/entropy", 1)
    assert len(anchoral.anchors) > 0 and 0 < len(anchoral.subpool) <= 300
    assert (anchoral.anchor_of >= 0).all() and np.isfinite(anchoral.similarity).all()
    assert len(full.anchors) == 0
    assert len(st.record("randsub/entropy", 1).subpool) == 300
    m = anchoral.result.metrics()
    for key in ("n_labelled", "minority_share", "subpool_minority_share", "t_retrieval",
                "t_scoring", "t_selection", "t_train", "minority_f1", "macro_f1"):
        assert key in m
    values = st.pool_values("probability")
    assert values.shape == (pool.dataset.n,) and 0 <= values.min() <= values.max() <= 1
    frame = st.rounds_frame()
    assert len(frame) == 4 and set(frame["run"]) == set(st.runs)


def test_engine_errors_reach_the_page_not_a_traceback(pool):
    st = ExplorerState(pool, init_size=2990, query_size=5)
    st.step()
    assert "init_size" in st.job.error and not st.job.busy


def test_chosen_minority_classes_do_not_touch_the_shared_pool(pool):
    st = ExplorerState(pool, experiment_factory=FakeDriver, minority=["common"])
    p = st.prepared_for_settings
    assert p.dataset.minority == (0,) and pool.dataset.minority == (1,)


def test_run_labels_and_colours_are_shared():
    assert run_label("anchoral/entropy") == "AnchorAL · entropy"
    assert run_color("anchoral/badge") == run_color("anchoral/entropy") != run_color("full/x")
    assert run_color(None) == run_color("") == "#444444"  # no run selected yet


def test_synthetic_source_is_validated():
    assert parse("synthetic:1_000_000") == 1_000_000
    with pytest.raises(ParameterError, match=r"row count must be an integer >= 500"):
        parse("synthetic:ten")


# ------------------------------------------------------------------ labelling, sessions, fork
def _label_batch(st, value_of=None):
    names = st.prepared.dataset.classes
    y = st.prepared.dataset.y
    for i in list(st.queue.queue_ids()):
        st.queue.label(value_of(i) if value_of else names[max(y[i], 0)], direct)
    st.wait()


def test_hand_labelling_commits_a_batch_and_proposes_the_next(pool):
    st = ExplorerState(pool, filters=["anchoral"], label_by_hand=True, subpool_size=300)
    assert st.hand and not st.annotate_data
    assert st.start(1, direct)
    st.wait()
    assert st.job.error == "" and st.round == 1 and st.record().proposed
    ids = st.queue.queue_ids().copy()
    assert len(ids) == 25 and st.queue.queue_pos == 0
    st.queue.label("common", direct)
    st.queue.back()
    assert st.queue.queue_pos == 0
    _label_batch(st)
    assert st.job.error == "" and st.rounds_of() == 1 and st.round == 2
    rec = st.record(round=1)
    assert rec.label_source == "human" and rec.queried.tolist() == ids.tolist()
    assert st.queue.agreement(st.history) == (25, 25)
    assert set(st.queue.queue_ids()).isdisjoint(ids)


def test_label_rejects_an_unknown_class(pool):
    st = ExplorerState(pool, filters=["anchoral"], label_by_hand=True, subpool_size=300)
    st.start(1, direct)
    st.wait()
    assert not st.queue.label("<b>nope</b>", direct)
    assert "is not a class" in st.job.error and st.queue.queue_pos == 0


def test_preview_changes_nothing_and_fork_adds_a_run(pool):
    st = ExplorerState(pool, filters=["anchoral"], subpool_size=300)
    st.step()
    st.step()
    before = st.experiment.run("anchoral/entropy").proposal
    assert branching.preview_next(st, direct, None, n_anchors=3)
    st.wait()
    p = st.preview
    assert p.run == "anchoral/entropy" and p.round == 3 and 0 < len(p.subpool) <= 300
    assert sum(p.mix.values()) == len(p.subpool) and p.by == "gold"
    assert st.experiment.run("anchoral/entropy").proposal is before and st.rounds_of() == 2
    st.round = 1
    assert branching.fork(st, direct, "random", n_anchors=5)
    st.wait()
    fork = "anchoral/random[n_anchors=5]@anchoral/entropy:1"
    assert st.runs == ["anchoral/entropy", fork] and st.run == fork and st.rounds_of(fork) == 1
    assert run_label(fork) == "AnchorAL · random [n_anchors=5] ⑂ AnchorAL · entropy @1"
    assert run_color(fork) != run_color("anchoral/entropy")
    st.step()  # every run, the fork included
    assert st.rounds_of(fork) == 2 and st.rounds_of("anchoral/entropy") == 3


def test_session_save_open_resume_and_second_writer(pool, tmp_path):
    st = ExplorerState(pool, filters=["anchoral"], label_by_hand=True, subpool_size=300)
    st.source = "synthetic:3000"
    st.start(1, direct)
    st.wait()
    _label_batch(st)
    assert save_session(st, str(tmp_path / "s")), st.job.error
    first = st.queue.queue_ids()[:2].tolist()
    st.queue.label("rare", direct)
    st.queue.label("common", direct)   # two pending labels of round 2, saved at once
    other = ExplorerState(pool)
    assert open_session(other, str(tmp_path / "s"), direct, lock_wait=0.5)
    other.wait()
    assert "open for writing by another process" in other.job.error and not other.job.busy
    st.close()
    again = ExplorerState(pool)
    open_session(again, str(tmp_path / "s"), direct)
    again.wait()
    assert again.job.error == "" and again.session_dir == str(tmp_path / "s")
    assert again.label_by_hand and again.runs == ["anchoral/entropy"]
    assert again.rounds_of() == 1 and again.record(round=1).label_source == "human"
    assert again.queue.given == {first[0]: "rare", first[1]: "common"}
    assert again.queue.queue_pos == 2
    assert "2 of 25 labels of round 2 were kept" in again.job.status
    csv = export_bytes(again, "labels", "csv").decode()
    assert csv.startswith("run,round,position,id") and csv.count("\n") == 26
    assert export_bytes(again, "plots", "png")[:4] == b"\x89PNG"
    again.close()


def test_open_session_errors_are_shown_not_raised(pool, tmp_path):
    st = ExplorerState(pool)
    assert not open_session(st, str(tmp_path), direct)
    assert "not an AnchorAL session" in st.job.error
    (tmp_path / "session.json").write_text("{broken")
    assert not open_session(st, str(tmp_path), direct)
    assert "corrupted" in st.job.error


def test_the_state_offers_exactly_what_the_library_registers(pool):
    from explorer import registry

    st = ExplorerState(pool, experiment_factory=FakeDriver)
    p = st.param
    assert p.filters.objects == list(registry.FILTERS)
    assert p.model.objects == list(registry.MODELS)
    assert set(p.strategy.objects) == set(registry.STRATEGIES)
    assert p.anchor_strategy.objects == list(registry.ANCHOR_STRATEGIES)
    assert p.sampling.objects == list(registry.SAMPLING)
    assert "minority_only" in st.settings and "minority_anchors" not in st.settings


@pytest.mark.parametrize("seconds, shown", [(0.048, "48 ms"), (2.34, "2.3 s"), (75.0, "75 s")])
def test_a_finished_run_says_how_long_it_took_in_units_a_person_reads(pool, monkeypatch, seconds,
                                                                       shown):
    import itertools
    import types

    from explorer.ui import state as state_module

    # the job starts at 100 s; every later reading (a run's progress, the end) is the end
    clock = itertools.chain([100.0], itertools.repeat(100.0 + seconds))
    monkeypatch.setattr(state_module, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    st = ExplorerState(pool, experiment_factory=FakeDriver)
    assert st.start(1, direct)
    st.job.wait(60)
    assert st.job.status == f"Done: 1 round in {shown}"
