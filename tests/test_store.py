"""Sessions: save/resume by replay, annotate mode, fork, preview, exports, corrupt dirs, lock."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from explorer.cli import main
from explorer.data import from_frame
from explorer.exceptions import ParameterError, SessionError
from explorer.experiment import Experiment
from explorer.export import export
from explorer.index import build_index
from explorer.prepare import Prepared
from explorer.store import create_session, open_session


def toy_prepared(n=600, annotate=False, seed=0):
    """Three blobs in 8-d; class 'rare' is one small blob. annotate: labels kept for 12 rows."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 8)) * 3
    cls = rng.choice(3, size=n, p=[0.6, 0.35, 0.05])
    X = (centres[cls] + rng.normal(size=(n, 8))).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    names = np.array(["common", "other", "rare"])[cls].astype(object)
    if annotate:
        keep = np.concatenate([np.flatnonzero(cls == c)[:4] for c in range(3)])
        names = np.where(np.isin(np.arange(n), keep), names, "")
    df = pd.DataFrame({"text": [f"text <b>{i}</b>" for i in range(n)], "label": names})
    ds = from_frame(df, minority="rare", name="toy")
    return Prepared(dataset=ds, embeddings=X, coords=X[:, :2].copy(), index=build_index(X, "exact"),
                    cache_dir=None)


SPEC = {"source": "toy", "name": "toy", "content_hash": None}


def spec(p):
    return {**SPEC, "content_hash": p.dataset.content_hash}


def queried(exp):
    return {r.key: [rec.queried_ids for rec in r.records] for r in exp.runs}


def test_simulated_session_resumes_identically(tmp_path):
    p = toy_prepared()
    runs = [("anchoral", "entropy"), ("seals", "margin")]
    settings = dict(seed=3, init_size=30, init_per_minority=3, query_size=10, subpool_size=60)
    with create_session(tmp_path / "s", p, spec(p), runs, **settings) as s:
        for _ in range(2):
            s.step()
    # reopen at round 2, go on to round 4; compare with an uninterrupted run
    with open_session(tmp_path / "s", prepared=p) as s:
        assert [r.round for r in s.experiment.runs] == [2, 2]
        s.step()
        s.step()
        resumed = queried(s.experiment)
    uninterrupted = Experiment(p, runs, **settings)
    uninterrupted.run(4)
    assert resumed == queried(uninterrupted)
    labels = pd.read_parquet(tmp_path / "s" / "labels.parquet")
    assert len(labels) == 2 * 4 * 10 and set(labels["source"]) == {"oracle"}
    assert (labels["label"] == labels["gold"]).all()


def test_annotate_mode_human_labels(tmp_path):
    p = toy_prepared(annotate=True)
    s = create_session(tmp_path / "a", p, spec(p), [("anchoral", "entropy")], mode="annotate",
                       query_size=5, subpool_size=50)
    run = s.experiment.runs[0]
    assert len(run.labelled) == 12 and s.experiment.test_ids.size == 0
    with pytest.raises(ParameterError, match="no gold labels to reveal"):
        s.commit(run.key)
    sel = run.propose()
    labels = ["rare", None, "common", "other", "common"]
    rec = s.commit(run.key, labels, user="ana")
    assert rec.round == 1 and rec.n_labelled == 16
    df = s.labels_frame()
    assert list(df["user"].unique()) == ["ana"] and df["skipped"].sum() == 1
    assert list(df["id"]) == sel.ids.tolist()
    s.close()
    with open_session(tmp_path / "a", prepared=p) as again:
        r = again.experiment.runs[0]
        assert r.round == 1 and r.labelled.tolist() == run.labelled.tolist()
        assert int(sel.ids[1]) in r.skipped.tolist()


def test_annotate_needs_two_seed_classes(tmp_path):
    p = toy_prepared(annotate=True)
    y = p.dataset.y.copy()
    y[y == 1] = -1
    y[y == 2] = -1
    object.__setattr__(p.dataset, "y", y)
    with pytest.raises(Exception, match="annotate mode needs seed labels of at least 2 classes"):
        Experiment(p, [("anchoral", "entropy")], mode="annotate")


def test_fork_keeps_history_and_survives_resume(tmp_path):
    p = toy_prepared()
    settings = dict(seed=1, init_size=30, init_per_minority=3, query_size=10, subpool_size=60)
    s = create_session(tmp_path / "f", p, spec(p), [("anchoral", "entropy")], **settings)
    for _ in range(3):
        s.step()
    parent = s.experiment.runs[0]
    fork = s.fork(parent.key, 1, strategy="margin", n_anchors=3)
    assert fork.round == 1 and fork.labelled.tolist() == parent.labelled[:40].tolist()
    assert fork.records[1].queried_ids == parent.records[1].queried_ids
    s.commit(fork.key)
    s.commit(fork.key)
    assert fork.round == 3 and parent.round == 3
    frame = s.experiment.rounds_frame()
    assert set(frame["run"]) == {parent.key, fork.key}
    before = queried(s.experiment)
    s.close()
    with open_session(tmp_path / "f", prepared=p) as again:
        assert queried(again.experiment) == before
    with pytest.raises(ParameterError, match="at_round=9 is after run"):
        Experiment(p, [("anchoral", "entropy")], **settings).fork("anchoral/entropy", 9)


def test_preview_changes_nothing(tmp_path):
    p = toy_prepared()
    exp = Experiment(p, [("anchoral", "entropy"), ("seals", "entropy")], seed=2, init_size=30,
                     init_per_minority=3, query_size=10, subpool_size=60)
    exp.step()
    state = queried(exp)
    for run in exp.runs:
        sel, mix = run.preview(n_anchors=2, subpool_size=40)
        assert sum(mix.values()) == len(sel.subpool) and set(mix) == {"common", "other", "rare"}
        assert run.proposal is None
    exp.step()
    reference = Experiment(p, [("anchoral", "entropy"), ("seals", "entropy")], seed=2,
                           init_size=30, init_per_minority=3, query_size=10, subpool_size=60)
    reference.run(2)
    assert queried(exp) == queried(reference) and state != queried(exp)
    with pytest.raises(ParameterError, match="preview parameter\\(s\\) n_anchor unknown"):
        exp.runs[0].preview(n_anchor=3)


def test_export_round_trip(tmp_path):
    p = toy_prepared()
    with create_session(tmp_path / "e", p, spec(p), [("anchoral", "entropy")], init_size=30,
                        init_per_minority=3, query_size=10, subpool_size=60) as s:
        s.step()
        s.step()
        ref = s.labels_frame()
    for fmt in ("csv", "parquet", "jsonl"):
        out = export(tmp_path / "e", "labels", tmp_path / f"labels.{fmt}")
        back = {"csv": pd.read_csv, "parquet": pd.read_parquet,
                "jsonl": lambda f: pd.read_json(f, lines=True)}[fmt](out)
        assert back["id"].tolist() == ref["id"].tolist()
        assert back["label"].tolist() == ref["label"].tolist()
    rounds = export(tmp_path / "e", "rounds", tmp_path / "rounds.csv")
    assert len(pd.read_csv(rounds)) == 3
    png = export(tmp_path / "e", "plots", tmp_path / "plots.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = export(tmp_path / "e", "plots", tmp_path / "plots.html").read_text()
    assert "<html" in html.lower() and "cdn.bokeh.org" not in html  # self-contained
    assert main(["export", str(tmp_path / "e"), "--what", "labels", "--out",
                 str(tmp_path / "x.xlsx")]) == 2


@pytest.mark.parametrize("damage, message", [
    (lambda d: None, "is not an AnchorAL session \\(no session.json\\)"),
    (lambda d: (d / "session.json").write_text("{not json"), "session.json is corrupted"),
    (lambda d: (d / "session.json").write_text(json.dumps({"format": "other"})),
     "is not an AnchorAL session file"),
    (lambda d: (d / "session.json").write_text(json.dumps({"format": "anchoral-session",
                                                          "version": 99})),
     "format version 99"),
])
def test_corrupted_or_foreign_directory(tmp_path, damage, message):
    d = tmp_path / "bad"
    d.mkdir()
    damage(d)
    with pytest.raises(SessionError, match=message):
        open_session(d)


def test_corrupted_labels_and_changed_data(tmp_path):
    p = toy_prepared()
    with create_session(tmp_path / "c", p, spec(p), [("anchoral", "entropy")], init_size=30,
                        init_per_minority=3, query_size=10, subpool_size=60) as s:
        s.step()
    other = toy_prepared(seed=5)
    with pytest.raises(SessionError, match="changed since the session was saved"):
        open_session(tmp_path / "c", prepared=other)
    (tmp_path / "c" / "labels.parquet").write_bytes(b"garbage")
    with pytest.raises(SessionError, match="labels.parquet is corrupted"):
        open_session(tmp_path / "c", prepared=p)


def test_second_writer_is_refused(tmp_path):
    p = toy_prepared()
    s = create_session(tmp_path / "l", p, spec(p), [("anchoral", "entropy")], init_size=30,
                       init_per_minority=3, query_size=10, subpool_size=60)
    with pytest.raises(SessionError, match="is open for writing by another process"):
        open_session(tmp_path / "l", prepared=p)
    with open_session(tmp_path / "l", prepared=p, readonly=True) as viewer:
        with pytest.raises(SessionError, match="opened read-only"):
            viewer.step()
    s.close()
    open_session(tmp_path / "l", prepared=p).close()


KILL_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_store import toy_prepared, spec
    from explorer.store import create_session, open_session
    p = toy_prepared()
    path = {path!r}
    settings = dict(seed=4, init_size=30, init_per_minority=3, query_size=10, subpool_size=60)
    import os
    if os.path.exists(os.path.join(path, "session.json")):
        s = open_session(path, prepared=p)
    else:
        s = create_session(path, p, spec(p), [("anchoral", "entropy")], **settings)
    while True:
        s.step()
        print(s.experiment.runs[0].round, flush=True)
""")


def test_sigkill_mid_run_loses_no_committed_label(tmp_path):
    path = str(tmp_path / "k")
    code = KILL_SCRIPT.format(tests=os.path.dirname(__file__), path=path)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    seen = 0
    deadline = time.monotonic() + 120
    while seen < 3 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip().isdigit():
            seen = int(line)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert seen >= 3
    p = toy_prepared()
    with open_session(path, prepared=p) as s:  # the lock died with the process
        run = s.experiment.runs[0]
        assert run.round >= seen  # every round printed was committed before the print
        s.step()
        resumed = [rec.queried_ids for rec in run.records]
    reference = Experiment(p, [("anchoral", "entropy")], seed=4, init_size=30,
                           init_per_minority=3, query_size=10, subpool_size=60)
    reference.run(len(resumed) - 1)
    assert resumed == [rec.queried_ids for rec in reference.runs[0].records]
