"""A real Dask cluster, not a LocalCluster: ``dask scheduler`` and two ``dask worker`` processes
over TCP on 127.0.0.1 (tests/real_cluster.py), as a cluster of several machines runs.

(a) a pool embedded through ``--dask tcp://...`` with the real MiniLM gives the local vectors;
(b) full-pool LR scoring of a memory-mapped pool on the cluster gives the local and in-memory ids;
(c) ``SIGKILL`` of a worker in the middle of a job: the job finishes with the same result, the
partitions whose results had arrived are not computed again, the lost ones are.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pandas as pd
import pytest
from real_cluster import (BrokenHead, RealCluster, SlowHashEncoder, SlowLoggedHead, SlowLoggedScale,
                          in_flight, leftovers, log_entries, wait_in_flight)

from explorer.cli import main as cli_main
from explorer.distributed import (dask_client, embed_partitioned, partition_bounds, partition_path,
                                  transform_partitioned)
from explorer.full_pool import ROW_SCORES, score_pool
from explorer.models import LogisticHead
from explorer.strategies.scores import top_n
from explorer.synthetic import make_pool

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = RealCluster(2, tmp_path_factory.mktemp("cluster"))
    try:
        c.start()
        yield c
    finally:
        c.close()
    assert leftovers(c.token) == []  # every process it started is gone


def test_a_closed_cluster_leaves_no_process(tmp_path):
    with RealCluster(1, tmp_path) as c:
        started = leftovers(c.token)
        assert c.scheduler.pid in started and c.workers[0].pid in started  # the check sees them
        assert c.address.startswith("tcp://127.0.0.1:")
    assert leftovers(c.token) == []
    assert c.scheduler.returncode is not None and c.workers[0].returncode is not None


TEXTS = [f"{w} number {i}: the {a} {w} {v} near the {p}."
         for i, (w, a, v, p) in enumerate(
             (w, a, v, p) for w in ("cat", "storm", "bank", "train", "violin")
             for a in ("old", "quiet", "red", "enormous")
             for v in ("waits", "rolls in", "closes", "sings", "breaks")
             for p in ("river",))]


def _has_encoder(token):
    """On a worker: whether it loaded and kept the encoder ``token`` names."""
    from explorer.distributed import _WORKER_STATE

    return ("encoder", token) in _WORKER_STATE


def test_a_pool_embedded_through_the_tcp_scheduler_matches_the_local_path(cluster, tmp_path,
                                                                           capsys):
    from explorer.distributed import encoder_token
    from explorer.embed import SentenceEncoder

    cluster.ensure_workers(2)
    assert len(TEXTS) == 100
    csv = tmp_path / "pool.csv"
    pd.DataFrame({"text": TEXTS, "label": ["rare" if i % 10 == 0 else "common"
                                           for i in range(len(TEXTS))]}).to_csv(csv, index=False)
    saved = tmp_path / "vectors.npy"
    assert cli_main(["prepare", str(csv), "--cache-dir", str(tmp_path / "cache"), "--dask",
                     cluster.address, "--no-projection", "--save-embeddings", str(saved)]) == 0
    out = capsys.readouterr().out
    assert f"dask: 2 workers, 2 threads ({cluster.address})" in out
    assert "computed on Dask" in out
    encoder = SentenceEncoder()  # the CLI's settings: the workers reuse the model it loaded
    local = encoder.encode(TEXTS)
    X = np.load(saved)
    assert X.shape == local.shape == (100, 384)
    assert np.sum(X * local, axis=1).min() >= 0.9999
    # in partitions of 25 texts, both workers take some: each loaded and kept the encoder
    with dask_client(cluster.address) as client:
        Y = embed_partitioned(TEXTS, encoder, client, partition_size=25, show_progress=False)
        assert list(client.run(_has_encoder, encoder_token(encoder)).values()) == [True, True]
    assert np.sum(np.asarray(Y) * local, axis=1).min() >= 0.9999


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """40,000 x 64 float16 rows, written block by block to a .npy; an LR head on 300 rows."""
    from numpy.lib.format import open_memmap

    path = tmp_path_factory.mktemp("pool") / "pool.npy"
    out = open_memmap(path, mode="w+", dtype=np.float16, shape=(40_000, 64))
    _, y, _ = make_pool(n=40_000, dim=64, n_clusters=40, n_minority_clusters=4,
                        minority_share=0.03, random_state=5, dtype=np.float16, out=out)
    out.flush()
    del out
    X = np.load(path, mmap_mode="r")
    labelled = np.sort(np.random.default_rng(1).choice(40_000, 300, replace=False))
    model = LogisticHead(X, 2, random_state=0).fit(labelled, y[labelled])
    return path, X, model, labelled


def test_full_pool_scoring_on_the_cluster_gives_the_local_and_in_memory_ids(cluster, pool):
    from distributed import get_task_stream

    path, X, model, labelled = pool
    cluster.ensure_workers(2)
    kw = dict(exclude=labelled, partition_rows=5000, block_rows=2048)
    with dask_client(cluster.address) as client, get_task_stream(client) as stream:
        got = score_pool(path, model, "entropy", 100, client=client, **kw)
    workers = {t["worker"] for t in stream.data if "anchoral-fullpool" in str(t["key"])}
    assert len(workers) == 2  # both worker processes scored partitions
    local = score_pool(path, model, "entropy", 100, **kw)
    cand = np.setdiff1d(np.arange(len(X)), labelled)
    scores = ROW_SCORES["entropy"](model.predict_proba(cand))  # the whole pool at once
    ref = cand[top_n(scores, 100)]
    np.testing.assert_array_equal(got.ids, local.ids)
    np.testing.assert_array_equal(got.ids, ref)
    np.testing.assert_allclose(got.scores, local.scores, rtol=1e-12)
    assert got.n_scored == local.n_scored == 40_000 - 300 and got.n_partitions == 8


def test_a_task_failing_on_the_cluster_says_to_run_again(cluster, pool):
    from explorer.exceptions import ComputeError

    cluster.ensure_workers(2)
    with dask_client(cluster.address) as client:
        with pytest.raises(ComputeError, match=r"^8 of 8 partitions failed on the Dask workers "
                                               r"\(first: partition \d: RuntimeError: broken "
                                               r"head\); run it again$"):
            score_pool(pool[0], BrokenHead(), client=client, partition_rows=5000)


def _starts(log_dir):
    counts = {}
    for tag, phase, _ in log_entries(log_dir):
        if phase == "start":
            counts[tag] = counts.get(tag, 0) + 1
    return counts


def _check_recovery(log_dir, tags, held, lost, victim, survivors):
    """Held partitions ran once; the victim's lost ones ran again on a survivor; no other ran
    twice; every partition finished on a survivor unless it was held before the kill."""
    starts = _starts(log_dir)
    assert set(starts) == set(tags)
    assert all(starts[t] == 1 for t in held), "a partition whose result had arrived ran again"
    assert lost and all(starts[t] >= 2 for t in lost), "the killed worker's task never reran"
    victim_started = {t for t, ph, p in log_entries(log_dir) if p == victim and ph == "start"}
    assert {t for t, n in starts.items() if n > 1} <= victim_started
    done_by_survivor = {t for t, ph, p in log_entries(log_dir) if ph == "done" and p in survivors}
    assert lost <= done_by_survivor
    return starts


def test_sigkill_of_a_worker_during_full_pool_scoring(cluster, pool, tmp_path):
    path, X, model, labelled = pool
    cluster.ensure_workers(2)
    log = tmp_path / "log"
    log.mkdir()
    head = SlowLoggedHead(model.estimator_, log, delay=0.5)
    bounds = partition_bounds(len(X), 2500)  # 16 tasks of 0.5 s or more
    tags = {SlowLoggedHead.tag(X[s]) for s, _ in bounds}
    victim = cluster.alive()[0]
    state = {"held": set(), "lost": None}

    def on_result(s, e):
        if state["lost"] is None:
            state["held"].add(SlowLoggedHead.tag(X[s]))
            if len(state["held"]) == 4:  # 4 results are here: kill a worker mid-task
                wait_in_flight(log, victim.pid)
                cluster.kill(victim)
                state["lost"] = in_flight(log, victim.pid)  # its marks are final now

    with dask_client(cluster.address) as client:
        got = score_pool(path, head, "entropy", 50, client=client, partition_rows=2500,
                         block_rows=2500, on_result=on_result)
        survivors = set(client.run(os.getpid).values())
    assert victim.returncode == -9 and victim.pid not in survivors
    ref = score_pool(path, model.estimator_, "entropy", 50, partition_rows=2500)
    np.testing.assert_array_equal(got.ids, ref.ids)
    assert got.n_scored == 40_000
    _check_recovery(log, tags, state["held"], state["lost"], victim.pid, survivors)


def test_sigkill_of_a_worker_during_embedding(cluster, tmp_path):
    cluster.ensure_workers(2)
    log = tmp_path / "log"
    log.mkdir()
    texts = [f"row {i} says {'yes' if i % 3 else 'no'} to {i % 7}" for i in range(60)]
    encoder = SlowHashEncoder(log, delay=0.5)
    bounds = partition_bounds(len(texts), 5)  # 12 partitions
    parts = [texts[s:e] for s, e in bounds]
    tags = {SlowHashEncoder.tag(p) for p in parts}
    files = [partition_path(tmp_path, p, encoder) for p in parts]
    victim = cluster.alive()[0]
    state = {"held": None, "lost": None}

    def watch():  # the finished partitions are the cached files: kill once 4 are there
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            done = [SlowHashEncoder.tag(p) for p, f in zip(parts, files) if f.exists()]
            if len(done) >= 4:
                wait_in_flight(log, victim.pid)
                state["held"] = {SlowHashEncoder.tag(p) for p, f in zip(parts, files)
                                 if f.exists()}
                cluster.kill(victim)
                state["lost"] = in_flight(log, victim.pid)  # its marks are final now
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    with dask_client(cluster.address) as client:
        watcher.start()
        X = embed_partitioned(texts, encoder, client, cache_dir=tmp_path, partition_size=5,
                              show_progress=False)
        watcher.join()
        survivors = set(client.run(os.getpid).values())
    assert victim.returncode == -9 and len(state["held"]) >= 4
    np.testing.assert_array_equal(np.asarray(X), SlowHashEncoder(tmp_path, 0).encode(texts))
    _check_recovery(log, tags, state["held"], state["lost"], victim.pid, survivors)


def test_sigkill_of_a_worker_during_the_umap_transform(cluster, tmp_path):
    cluster.ensure_workers(2)
    log = tmp_path / "log"
    log.mkdir()
    X = np.arange(120, dtype=np.float16).reshape(60, 2)
    tags = {SlowLoggedHead.tag(X[s]) for s in range(0, 60, 5)}  # 12 chunks of 5 rows
    victim = cluster.alive()[0]
    state = {"held": set(), "lost": None, "n": 0}
    reads = []

    class Pool:  # the client reads the pool one chunk at a time
        shape = X.shape

        def __len__(self):
            return len(X)

        def __getitem__(self, idx):
            reads.append(len(X[idx]))
            return X[idx]

    with dask_client(cluster.address) as client:
        def on_rows(m):
            state["n"] += 1
            if state["lost"] is None and state["n"] == 4:
                wait_in_flight(log, victim.pid)
                cluster.kill(victim)
                state["lost"] = in_flight(log, victim.pid)
                state["held"] = {t for t, ph, p in log_entries(log)  # the survivor's finished
                                 if ph == "done" and p != victim.pid}

        out = transform_partitioned(SlowLoggedScale(log, delay=0.5), Pool(), client,
                                    chunk_size=5, on_rows=on_rows)
    np.testing.assert_array_equal(out, X.astype(np.float32) * 0.5)
    assert max(reads) == 5 and sum(reads) == 60  # chunk by chunk, each read once
    assert victim.returncode == -9
    starts = _starts(log)
    assert set(starts) == tags
    assert state["lost"] and all(starts[t] >= 2 for t in state["lost"])
    assert state["held"] and all(starts[t] == 1 for t in state["held"])
    victim_started = {t for t, ph, p in log_entries(log) if p == victim.pid and ph == "start"}
    assert {t for t, n in starts.items() if n > 1} <= victim_started
    assert sum(starts.values()) <= 12 + len(victim_started)
