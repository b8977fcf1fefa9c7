"""Acting on a map selection through the real engine: label all, open in the queue, fork."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.ui import chosen
from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import synthetic_prepared


@pytest.fixture(scope="module")
def pool():
    return synthetic_prepared(2000, dim=16, minority_share=0.05, projection="generated")


def direct(cb):
    cb()


def hand_state(pool):
    st = ExplorerState(pool, filters=["anchoral"], label_by_hand=True, subpool_size=300)
    st.start(1, direct)  # builds the runs and proposes the first batch to label
    st.wait()
    assert st.queue.proposal is not None
    return st


def some_rows(st, n=6):
    run = st.experiment.run(st.run)
    return run.unlabelled()[[7, 3, 11, 40, 2, 9][:n]]


def test_label_the_selection_with_one_class_as_a_round(pool):
    st = hand_state(pool)
    ids = some_rows(st)
    assert chosen.label_rows(st, ids, "rare", direct)
    st.wait()
    assert st.job.error == "" and st.rounds_of() == 1
    rec = st.record(round=1)
    assert rec.queried.tolist() == ids.tolist() and rec.label_source == "human"
    assert set(rec.labels.tolist()) == {pool.dataset.classes.index("rare")}
    assert st.queue.proposal is not None and set(st.queue.queue_ids()).isdisjoint(ids)
    assert st.experiment.run(st.run).chosen_rounds == [1]


def test_open_the_selection_in_the_labelling_queue(pool):
    st = hand_state(pool)
    ids = some_rows(st, 3)
    assert chosen.queue_rows(st, ids, direct)
    st.wait()
    assert st.queue.queue_ids().tolist() == ids.tolist()
    for name in ("common", "rare", None):
        st.queue.label(name, direct)
    st.wait()
    assert st.rounds_of() == 1 and st.record(round=1).queried.tolist() == ids.tolist()


def test_fork_with_the_selection_in_a_simulation(pool):
    st = ExplorerState(pool, filters=["anchoral"], subpool_size=300)
    st.step()
    ids = st.experiment.run(st.run).unlabelled()[:5]
    assert chosen.fork_with_rows(st, ids, direct)
    st.wait()
    assert st.job.error == "" and len(st.runs) == 2 and st.run == st.runs[1]
    rec = st.record(st.run, 2)
    assert rec.queried.tolist() == ids.tolist()
    assert rec.labels.tolist() == pool.dataset.y[ids].tolist()  # gold labels revealed
    assert st.rounds_of(st.runs[0]) == 1  # the parent is unchanged


def test_refusals_say_why(pool):
    st = ExplorerState(pool, filters=["anchoral"], subpool_size=300)
    assert not chosen.fork_with_rows(st, [1, 2], direct)
    assert st.job.error.startswith("Nothing to add the rows to yet: press Step first")
    st.step()
    assert not chosen.label_rows(st, [], "rare", direct)
    assert st.job.error == "Select rows on the map first (box or lasso tool)."
    assert not chosen.label_rows(st, [1, 2], "rare", direct)
    assert st.job.error.startswith("Labelling a selection is for hand-labelling sessions")
    st.label_by_hand = True
    assert not chosen.label_rows(st, [1, 2], "<b>x</b>", direct)
    assert st.job.error.startswith("label '<b>x</b>' is not a class")
    assert not chosen.queue_rows(st, np.arange(500), direct)
    assert st.job.error.startswith("500 rows are too many for the queue (at most 200)")
