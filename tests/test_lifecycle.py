"""The session lifecycle the library owns: open_or_create, the dataset check, the lock, sessions in memory, export."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

from explorer.exceptions import SessionError, SessionLockedError
from explorer.experiment import Experiment
from explorer.export import export
from explorer.store import (Provenance, Session, check_dataset, data_spec_of, open_or_create,
                            open_session, read_labels, read_manifest)
from test_store import spec, toy_prepared

SETTINGS = dict(seed=2, init_size=30, init_per_minority=3, query_size=10, subpool_size=60)


def test_open_or_create_creates_then_resumes(tmp_path):
    p = toy_prepared()
    with open_or_create(tmp_path / "s", p, spec(p), [("anchoral", "entropy")], **SETTINGS) as s:
        assert not s.resumed and s.experiment.runs[0].round == 0
        s.step()
        first = s.experiment.runs[0].records[1].queried_ids
    # runs and settings given on resume are ignored: the session keeps its own
    with open_or_create(tmp_path / "s", p, spec(p), [("full", "margin")], seed=99) as s:
        assert s.resumed and [r.key for r in s.experiment.runs] == ["anchoral/entropy"]
        assert s.experiment.seed == 2 and s.experiment.runs[0].round == 1
        assert s.experiment.runs[0].records[1].queried_ids == first


def test_other_dataset_is_one_message_with_the_fix(tmp_path):
    p, other = toy_prepared(), toy_prepared(seed=5)
    open_or_create(tmp_path / "s", p, spec(p), [("anchoral", "entropy")], **SETTINGS).close()
    message = (r"session .*s was made on dataset 'toy' \(toy\), and the data given is not that "
               r"dataset .*serve that dataset to open it \(anchoral serve toy --session .*s\)")
    with pytest.raises(SessionError, match=message):
        open_or_create(tmp_path / "s", other, spec(other), [("anchoral", "entropy")])
    with pytest.raises(SessionError, match=message):
        check_dataset(read_manifest(tmp_path / "s"), other, tmp_path / "s")
    check_dataset(read_manifest(tmp_path / "s"), p)  # the same data passes


def test_data_spec_keeps_builtin_and_synthetic_names(tmp_path):
    p = toy_prepared()
    assert data_spec_of(p, "sample")["source"] == "sample"
    assert data_spec_of(p, "synthetic:3000")["source"] == "synthetic:3000"
    assert data_spec_of(p, tmp_path / "x.csv")["source"] == str((tmp_path / "x.csv").resolve())


def test_a_held_lock_is_a_session_locked_error_and_wait_s_retries(tmp_path):
    p = toy_prepared()
    holder = open_or_create(tmp_path / "l", p, spec(p), [("anchoral", "entropy")], **SETTINGS)
    with pytest.raises(SessionLockedError, match="is open for writing by another process") as err:
        open_session(tmp_path / "l", prepared=p)
    assert isinstance(err.value, SessionError) and err.value.path == tmp_path / "l"
    assert err.value.holder.startswith("pid ")
    threading.Timer(0.3, holder.close).start()  # the other writer leaves while we wait
    with open_session(tmp_path / "l", prepared=p, wait_s=60) as s:
        assert s.resumed and s.path == tmp_path / "l"


def test_in_memory_session_keeps_provenance_and_pending_then_saves(tmp_path):
    p = toy_prepared()
    exp = Experiment(p, [("anchoral", "entropy")], **SETTINGS)
    mem = Session.in_memory(exp, spec(p), SETTINGS)
    assert mem.path is None
    mem.step()
    run = exp.runs[0]
    ids = run.propose().ids
    labels = [p.dataset.classes[p.dataset.y[i]] for i in ids]
    labels[0] = None  # skipped
    mem.commit(run.key, labels, user="ann")
    mem.save_pending(run.key, {int(run.propose().ids[0]): "rare"})
    fork = mem.fork(run.key, 2, n_anchors=5)
    assert mem.label_source(run.key, 1) == "oracle" and mem.label_source(run.key, 2) == "human"
    assert mem.provenance[(fork.key, 2)].user == "ann"
    assert not (tmp_path / "m").exists()
    with pytest.raises(SessionError, match=r"lives in memory; give it a directory with save_as"):
        mem.save()

    mem.save_as(tmp_path / "m")
    labels_df = read_labels(tmp_path / "m")
    human = labels_df[labels_df["round"] == 2]
    assert set(human["source"]) == {"human"} and set(human["user"]) == {"ann"}
    assert human["skipped"].tolist() == [True] + [False] * (len(ids) - 1)
    mem.close()
    with open_session(tmp_path / "m", prepared=p) as again:
        assert [r.key for r in again.experiment.runs] == [run.key, fork.key]
        assert again.provenance[(run.key, 2)] == Provenance("human", "ann",
                                                             mem.provenance[(run.key, 2)].time)
        assert again.provenance[(fork.key, 2)].label_source == "human"
        assert again.pending() == {run.key: {str(int(run.propose().ids[0])): "rare"}}
        assert again.experiment.runs[0].records[2].queried_ids == run.records[2].queried_ids


def test_export_from_memory_and_from_disk_agree(tmp_path):
    p = toy_prepared()
    exp = Experiment(p, [("anchoral", "entropy"), ("full", "entropy")], **SETTINGS)
    mem = Session.in_memory(exp, spec(p), SETTINGS)
    mem.step()
    mem.step()
    a = pd.read_csv(export(mem, "labels", tmp_path / "mem.csv"))
    assert len(a) == 2 * 2 * 10 and a["text"].str.startswith("text <b>").all()
    assert (a["text"] == [f"text <b>{i}</b>" for i in a["id"]]).all()
    r = pd.read_parquet(export(mem, "rounds", tmp_path / "rounds.parquet"))
    assert sorted(r["run"].unique()) == ["anchoral/entropy", "full/entropy"] and len(r) == 6
    assert export(mem, "plots", tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    mem.save_as(tmp_path / "d").close()
    b = pd.read_csv(export(tmp_path / "d", "labels", tmp_path / "disk.csv"))
    # on disk the toy source cannot be loaded again: the labels export without texts
    assert "text" not in b.columns
    pd.testing.assert_frame_equal(a.drop(columns="text"), b)
    q_mem = pd.read_parquet(export(mem, "queries", tmp_path / "q1.parquet"))
    q_disk = pd.read_parquet(export(tmp_path / "d", "queries", tmp_path / "q2.parquet"))
    pd.testing.assert_frame_equal(q_mem, q_disk)
    np.testing.assert_array_equal(q_mem["id"], np.concatenate(
        [rec.queried_ids for run in exp.runs for rec in run.records[1:]]))
