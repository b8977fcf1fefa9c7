"""The labelling queue records who decided what: label, undo, change, history (no browser)."""

from __future__ import annotations

import pytest

from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import synthetic_prepared


@pytest.fixture(scope="module")
def pool():
    return synthetic_prepared(3000, dim=16, minority_share=0.05, projection="generated")


def direct(cb):
    cb()


def test_queue_records_author_undo_and_change(pool):
    st = ExplorerState(pool, filters=["anchoral"], label_by_hand=True, subpool_size=300,
                       user="ana")
    st.start(1, direct)
    st.wait()
    q = st.queue
    ids = q.queue_ids().tolist()
    assert q.undo_target() is None and not q.undo()  # nothing decided yet
    assert q.history() is not None and len(q.history()) == 0
    q.label("rare", direct)
    assert q.queue_pos == 1 and q.undo_target() == 0
    assert q.undo()                        # withdraws the first text's label, shows it again
    assert q.queue_pos == 0 and ids[0] not in q.given
    q.user = "ben"
    q.label("common", direct)              # decided again, by someone else
    q.back()
    h = q.history()
    assert list(zip(h["action"], h["label"], h["author"])) == [
        ("label", "rare", "ana"), ("undo", "", "ana"), ("label", "common", "ben")]
    q.label("rare", direct)                # a change of mind: one more event, nothing erased
    assert q.given[ids[0]] == "rare"
    q.queue_pos = 0
    assert q.history()["label"].tolist()[-1] == "rare" and len(q.history()) == 4
    session = st.experiment.session
    assert session.pending()["anchoral/entropy"][str(ids[0])] == "rare"
    q.user = ""
    q.queue_pos = 1
    for _ in ids[1:]:
        q.label("common", direct)
    st.wait()
    h = session.history(ids[0])
    assert h["action"].tolist()[-1] == "commit" and h["label"].tolist()[-1] == "rare"
    assert h["author"].tolist()[-1] == "unknown"  # the name field was emptied before the commit
