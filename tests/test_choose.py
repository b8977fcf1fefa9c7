"""A batch a person chose (a map selection) labelled as one round, forked from, and replayed."""

import numpy as np
import pandas as pd
import pytest

from explorer.exceptions import ParameterError
from explorer.experiment import Experiment
from explorer.store import create_session, open_session

from test_store import queried, spec, toy_prepared

SETTINGS = dict(seed=1, init_size=30, init_per_minority=3, query_size=10, subpool_size=60)


def test_chosen_rows_become_one_round_without_the_labelled_ones():
    p = toy_prepared()
    exp = Experiment(p, [("anchoral", "entropy")], **SETTINGS)
    run = exp.runs[0]
    run.start()
    labelled = int(run.labelled[0])
    unl = run.unlabelled()
    chosen = [int(unl[5]), labelled, int(unl[2]), int(unl[5]), int(unl[9])]
    sel = run.choose(chosen)
    assert sel.ids.tolist() == [unl[5], unl[2], unl[9]]  # order kept, labelled + repeat dropped
    assert run.propose() is sel  # the open batch until commit
    rec = run.commit(["common", "rare", None])
    assert rec.round == 1 and list(rec.queried_ids) == sel.ids.tolist()
    assert run.chosen_rounds == [1] and rec.n_anchors == 0
    assert list(rec.queried_labels) == [0, 2, -1]
    assert int(unl[9]) in run.skipped and int(unl[2]) in run.labelled
    run.step()  # the filter takes over again
    assert run.round == 2 and run.chosen_rounds == [1]


def test_errors():
    p = toy_prepared()
    run = Experiment(p, [("anchoral", "entropy")], **SETTINGS).runs[0]
    with pytest.raises(ParameterError, match=r"^ids must be row ids between 0 and 599, got "
                       r"5\.\.600; choose rows of this pool"):
        run.choose([5, 600])
    run.start()
    with pytest.raises(ParameterError, match=r"^run anchoral/entropy: none of the chosen rows "
                       r"can be queried"):
        run.choose(run.labelled[:3])


def test_session_with_a_chosen_round_and_a_fork_seeded_by_one_replays(tmp_path):
    p = toy_prepared()
    s = create_session(tmp_path / "s", p, spec(p), [("anchoral", "entropy")], **SETTINGS)
    s.step()
    run = s.experiment.runs[0]
    pick = run.unlabelled()[[3, 1, 4, 1, 5, 9, 2, 6]]
    run.choose(pick)
    s.commit(run.key, None)  # gold labels of the chosen rows (simulation)
    s.step()
    fork = s.fork(run.key, 1)  # a fork whose first own round is a chosen set
    fork.choose(run.unlabelled()[-4:])
    s.commit(fork.key, ["rare", "rare", "common", "other"], user="ana")
    s.commit(fork.key, None)
    assert run.chosen_rounds == [2] and fork.chosen_rounds == [2]
    before = queried(s.experiment)
    s.close()
    with open_session(tmp_path / "s", prepared=p) as again:
        assert queried(again.experiment) == before
        runs = {r.key: r for r in again.experiment.runs}
        assert runs[run.key].chosen_rounds == [2] and runs[fork.key].chosen_rounds == [2]
    labels = pd.read_parquet(tmp_path / "s" / "labels.parquet")
    mine = labels[(labels["run"] == fork.key) & (labels["round"] == 2)]
    assert mine["label"].tolist() == ["rare", "rare", "common", "other"]
    assert set(mine["user"]) == {"ana"}


def test_an_old_session_without_chosen_rounds_still_opens(tmp_path):
    import json

    p = toy_prepared()
    with create_session(tmp_path / "o", p, spec(p), [("anchoral", "entropy")], **SETTINGS) as s:
        s.step()
        before = queried(s.experiment)
    doc = json.loads((tmp_path / "o" / "session.json").read_text())
    for r in doc["runs"]:
        r.pop("chosen_rounds")
    (tmp_path / "o" / "session.json").write_text(json.dumps(doc))
    with open_session(tmp_path / "o", prepared=p) as again:
        assert queried(again.experiment) == before
