"""Who labelled what: decisions as events, undo and change, history, old sessions, the CLI."""

import datetime as dt
import json
import subprocess
import sys

import pandas as pd
import pytest

from explorer import decisions
from explorer.exceptions import ParameterError, SessionError
from explorer.store import create_session, open_session
from test_store import spec, toy_prepared


@pytest.fixture
def annotate(tmp_path):
    p = toy_prepared(annotate=True)
    s = create_session(tmp_path / "a", p, spec(p), [("anchoral", "entropy")], mode="annotate",
                       query_size=5, subpool_size=50)
    yield p, s, tmp_path / "a"
    s.close()


def lines(path):
    return [json.loads(x) for x in (path / "decisions.jsonl").read_text().splitlines()]


def test_author_and_time_are_recorded(annotate):
    p, s, path = annotate
    run = s.experiment.runs[0]
    ids = run.propose().ids.tolist()
    before = dt.datetime.now(dt.timezone.utc)
    s.decide(run.key, ids[0], "rare", author="ana")
    s.decide(run.key, ids[1], None, author="ben")
    got = lines(path)
    assert [(e["id"], e["action"], e["label"], e["author"]) for e in got] == [
        (ids[0], "label", "rare", "ana"), (ids[1], "skip", "", "ben")]
    for e in got:
        t = dt.datetime.fromisoformat(e["time"])
        assert t.utcoffset() == dt.timedelta(0) and t >= before.replace(microsecond=0)
    assert s.pending()[run.key] == {str(ids[0]): "rare", str(ids[1]): None}
    s.decide(run.key, ids[2], "common", author="")  # no name given
    assert lines(path)[-1]["author"] == "unknown"


def test_change_and_undo_are_new_events_and_history_returns_the_chain(annotate):
    p, s, path = annotate
    run = s.experiment.runs[0]
    ids = run.propose().ids.tolist()
    row = ids[0]
    s.decide(run.key, row, "rare", author="ana")
    s.decide(run.key, row, "other", author="ben")      # a change of mind
    s.undo(run.key, row, author="ana")                  # withdrawn
    assert str(row) not in s.pending()[run.key]
    assert (run.key, row) not in decisions.current(s.decisions)
    s.decide(run.key, row, "common", author="ana")
    assert decisions.current(s.decisions)[(run.key, row)] == "common"
    for i in ids[1:]:
        s.decide(run.key, i, "common", author="ana")
    labels = [s.pending()[run.key][str(i)] for i in ids]
    s.commit(run.key, labels, user="ana")
    h = s.history(row)
    assert h.columns.tolist() == decisions.DECISION_COLUMNS
    assert list(zip(h["action"], h["label"], h["author"])) == [
        ("label", "rare", "ana"), ("label", "other", "ben"), ("undo", "", "ana"),
        ("label", "common", "ana"), ("commit", "common", "ana")]
    assert (h["round"] == 1).all() and (h["id"] == row).all()
    assert decisions.current(s.decisions)[(run.key, row)] == "common"
    assert len(lines(path)) == 4 + 4 + 5  # nothing rewritten: every event kept
    s.close()
    with open_session(path, prepared=p) as again:  # the history survives a reopen
        pd.testing.assert_frame_equal(again.history(row), h)
        assert again.experiment.runs[0].round == 1


def test_old_session_without_decisions_loads_with_unknown_authors(tmp_path):
    """A session as saved before decisions.jsonl existed: labels.parquet only, no user."""
    p = toy_prepared(annotate=True)
    path = tmp_path / "old"
    s = create_session(path, p, spec(p), [("anchoral", "entropy")], mode="annotate",
                       query_size=5, subpool_size=50)
    run = s.experiment.runs[0]
    ids = run.propose().ids.tolist()
    s.commit(run.key, ["rare", None, "common", "other", "common"], user="")
    s.close()
    (path / "decisions.jsonl").unlink()
    labels = pd.read_parquet(path / "labels.parquet")
    labels["user"] = ""
    labels.to_parquet(path / "labels.parquet", index=False)
    with open_session(path, prepared=p) as old:
        assert old.decisions == [] and old.experiment.runs[0].round == 1
        h = old.history(ids[0])
        assert list(zip(h["action"], h["label"], h["author"])) == [("commit", "rare", "unknown")]
        assert old.history(ids[1])["label"].tolist() == [""]  # the skipped row
        # new decisions go on in the same session, in the new file
        nxt = old.experiment.runs[0].propose().ids.tolist()
        old.decide(old.experiment.runs[0].key, nxt[0], "rare", author="cy")
    assert lines(path)[0]["author"] == "cy"


def test_oracle_rounds_show_as_commits(tmp_path):
    p = toy_prepared()
    with create_session(tmp_path / "s", p, spec(p), [("anchoral", "entropy")], init_size=30,
                        query_size=10, subpool_size=60) as s:
        s.step()
        row = int(s.experiment.runs[0].records[1].queried_ids[0])
        h = s.history(row)
        assert h["action"].tolist() == ["commit"] and h["author"].tolist() == ["oracle"]
        assert not (tmp_path / "s" / "decisions.jsonl").exists()  # no person decided anything


def test_decision_errors(annotate, tmp_path):
    p, s, path = annotate
    run = s.experiment.runs[0]
    ids = run.propose().ids.tolist()
    outside = next(i for i in range(p.dataset.n) if i not in ids)
    with pytest.raises(SessionError, match=rf"row {outside} is not in run .*'s open batch"):
        s.decide(run.key, outside, "rare")
    with pytest.raises(SessionError, match=r"label 'nope' is not a class; use one of"):
        s.decide(run.key, ids[0], "nope")
    with pytest.raises(SessionError, match=rf"row {ids[0]} has no decision to undo"):
        s.undo(run.key, ids[0])
    with pytest.raises(ParameterError, match=r"action='erase' is not a decision"):
        decisions.event("r", 1, 1, "erase")
    s.decide(run.key, ids[0], "rare", author="ana")
    s.close()
    with open(path / "decisions.jsonl", "a") as fh:
        fh.write('{"run": "x", "round": 1\n')
    with pytest.raises(SessionError, match=r"decisions.jsonl line 2 is not a decision .*delete it"):
        open_session(path, prepared=p)


def test_in_memory_session_keeps_decisions_until_saved(tmp_path):
    from explorer.experiment import Experiment
    from explorer.store import Session

    p = toy_prepared(annotate=True)
    s = Session.in_memory(Experiment(p, [("anchoral", "entropy")], mode="annotate",
                                     query_size=5, subpool_size=50), spec(p))
    run = s.experiment.runs[0]
    row = int(run.propose().ids[0])
    s.decide(run.key, row, "rare", author="ana")
    s.save_as(tmp_path / "m")
    assert [e["author"] for e in lines(tmp_path / "m")] == ["ana"]
    s.close()


@pytest.mark.slow
def test_cli_author_and_undo(tmp_path):
    rows = [("Stocks and bonds moved as traders watched.", "finance")] * 30
    rows += [("The team won the match.", "sport")] * 3
    rows += [(f"unlabelled text about markets number {i}", "") for i in range(20)]
    csv = tmp_path / "d.csv"
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(csv, index=False)
    session = tmp_path / "s"
    res = subprocess.run(
        [sys.executable, "-m", "explorer.cli", "label", str(csv), "--session", str(session),
         "--query-size", "3", "--subpool-size", "20", "--n-neighbors", "5", "--author", "dora"],
        input="1\nu\n2\n1\ns\n", capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "undone: id" in res.stdout and "round 1 saved" in res.stdout
    got = lines(session)
    assert [e["action"] for e in got] == ["label", "undo", "label", "label", "skip",
                                          "commit", "commit", "commit"]
    assert {e["author"] for e in got} == {"dora"}
    assert got[0]["id"] == got[1]["id"] == got[2]["id"] and got[2]["label"] == "sport"
    labels = pd.read_parquet(session / "labels.parquet")
    assert labels["label"].tolist()[0] == "sport" and set(labels["user"]) == {"dora"}
