"""The Dask path on a 2-worker LocalCluster: same vectors as the local path, resume, UMAP, CLI."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.cli import main as cli_main
from explorer.distributed import (
    dask_client,
    embed_partitioned,
    parse_address,
    partition_bounds,
    partition_path,
    transform_partitioned,
)
from explorer.embed import Encoder, embed
from explorer.exceptions import ComputeError, ParameterError
from explorer.prepare import prepare

HERE = Path(__file__).resolve().parent


class HashEncoder(Encoder):
    """A tiny deterministic encoder: token hashes → 16-d unit vectors (no model).

    Each ``encode`` call drops a file in ``log_dir`` (workers are other processes) naming its
    first text; a text containing ``fail_word`` raises while ``fail_flag`` exists.
    """

    dim = 16

    def __init__(self, log_dir=None, fail_word=None, fail_flag=None):
        self.log_dir = log_dir
        self.fail_word = fail_word
        self.fail_flag = fail_flag
        self._calls = 0  # encode calls served by this instance (not a setting)

    @property
    def model_id(self):
        return "hash16"

    def encode(self, texts, show_progress=False):
        self._calls += 1
        texts = list(texts)
        if self.fail_flag and os.path.exists(self.fail_flag) and any(
                self.fail_word in t for t in texts):
            raise RuntimeError(f"simulated crash on {self.fail_word!r}")
        if self.log_dir:
            name = hashlib.sha1(texts[0].encode()).hexdigest()[:10] if texts else "empty"
            Path(self.log_dir, f"{name}-{uuid.uuid4().hex[:6]}").write_text(texts[0] if texts else "")
        X = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                h = int(hashlib.md5(w.encode()).hexdigest(), 16)
                X[i, h % self.dim] += 1.0 + (h >> 8) % 7
        X[:, 0] += 0.5
        return X / np.linalg.norm(X, axis=1, keepdims=True)


TEXTS = [f"text {i} about {'cats' if i % 3 else 'dogs'} number {i * 7 % 11}" for i in range(50)]


@pytest.fixture(scope="module")
def client():
    # the workers are fresh processes: let them import this module (HashEncoder) like pytest did
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), str(HERE.parent), old) if p)
    try:
        with dask_client("local:2") as c:
            yield c
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def test_parse_address():
    assert parse_address("local:3") == ("local", 3)
    assert parse_address("local") == ("local", os.cpu_count())
    assert parse_address("tcp://10.0.0.5:8786") == ("scheduler", "tcp://10.0.0.5:8786")
    assert parse_address("10.0.0.5:8786") == ("scheduler", "tcp://10.0.0.5:8786")
    with pytest.raises(ParameterError, match=r"--dask='local:0': N=0 workers must be >= 1"):
        parse_address("local:0")
    with pytest.raises(ParameterError, match=r"--dask='my cluster' is not a Dask address; use "
                                             r"'local'"):
        parse_address("my cluster")


def test_partition_bounds_cover_every_row_once():
    assert partition_bounds(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert partition_bounds(0, 3) == []
    with pytest.raises(ParameterError, match="partition_size=0 must be >= 1"):
        partition_bounds(5, 0)


def test_two_workers_give_the_local_vectors_in_row_order(client, tmp_path):
    enc = HashEncoder()
    local = enc.encode(TEXTS)
    X = embed_partitioned(TEXTS, enc, client, cache_dir=tmp_path, partition_size=7,
                          show_progress=False)
    np.testing.assert_array_equal(np.asarray(X), local)
    # the full matrix sits where the local path looks for it: embed() reads it, computes nothing
    assert isinstance(X, np.memmap)
    (tmp_path / "nolog").mkdir()
    again = embed(TEXTS, HashEncoder(log_dir=str(tmp_path / "nolog")), cache_dir=tmp_path)
    np.testing.assert_array_equal(np.asarray(again), local)
    assert not list((tmp_path / "nolog").iterdir())
    # without a cache the partitions come back in memory
    np.testing.assert_array_equal(
        embed_partitioned(TEXTS, enc, client, partition_size=16, show_progress=False), local)


def test_each_worker_keeps_one_encoder_for_all_its_partitions(client, tmp_path):
    from explorer.distributed import encoder_token

    enc = HashEncoder(log_dir=str(tmp_path))  # a token no other test uses
    X = embed_partitioned(TEXTS, enc, client, partition_size=5, show_progress=False)
    assert X.shape == (50, 16)
    served = client.run(_calls_served, ("encoder", encoder_token(enc)))
    assert len(served) == 2
    assert sum(served.values()) == 10  # every one of the 10 tasks used a worker's cached encoder


def _calls_served(key):
    """On a worker: encode calls served by the encoder it cached under ``key``."""
    from explorer.distributed import _WORKER_STATE

    return getattr(_WORKER_STATE.get(key), "_calls", 0)


def test_an_interrupted_run_resumes_with_the_missing_partitions_only(client, tmp_path):
    log, flag = tmp_path / "log", tmp_path / "crash"
    log.mkdir()
    flag.write_text("on")
    enc = HashEncoder(log_dir=str(log), fail_word="text 23 ", fail_flag=str(flag))
    bounds = partition_bounds(len(TEXTS), 10)  # 5 partitions; row 23 is in partition 2
    failing = [i for i, (s, e) in enumerate(bounds) if any("text 23 " in t for t in TEXTS[s:e])]
    assert failing == [2]
    with pytest.raises(ComputeError, match=rf"{len(failing)} of 5 partitions failed .* run the "
                                           "same command again to resume"):
        embed_partitioned(TEXTS, enc, client, cache_dir=tmp_path, partition_size=10,
                          show_progress=False)
    cached = [partition_path(tmp_path, TEXTS[s:e], enc).exists() for s, e in bounds]
    assert cached == [i not in failing for i in range(5)]
    first_run = len(list(log.iterdir()))
    flag.unlink()  # the "crash" is over: run again
    X = embed_partitioned(TEXTS, enc, client, cache_dir=tmp_path, partition_size=10,
                          show_progress=False)
    computed_again = len(list(log.iterdir())) - first_run
    assert computed_again == len(failing)  # only the missing partitions were encoded
    np.testing.assert_array_equal(np.asarray(X), HashEncoder().encode(TEXTS))
    assert not any(partition_path(tmp_path, TEXTS[s:e], enc).exists() for s, e in bounds)


def test_umap_transform_on_workers_matches_the_local_transform(client):
    X = np.arange(46, dtype=np.float32).reshape(23, 2)
    out = transform_partitioned(_Scale(), X, client, chunk_size=5)
    np.testing.assert_array_equal(out, X * 0.5)
    seen = []
    transform_partitioned(_Scale(), X, client, chunk_size=5, on_rows=seen.append)
    assert sorted(seen) == [3, 5, 5, 5, 5]


def test_umap_transform_reads_one_chunk_at_a_time_and_takes_rows(client):
    X = np.arange(80, dtype=np.float16).reshape(40, 2)
    reads = []

    class Pool:  # a memory-mapped pool stand-in that records every read
        shape = X.shape

        def __len__(self):
            return len(X)

        def __getitem__(self, idx):
            reads.append(len(X[idx]))
            return X[idx]

    rows = np.arange(3, 40, 2)  # 19 rows
    out = transform_partitioned(_Scale(), Pool(), client, chunk_size=4, rows=rows)
    np.testing.assert_array_equal(out, X[rows].astype(np.float32) * 0.5)
    assert out.dtype == np.float32
    assert max(reads) == 4 and sum(reads) == 19  # never the whole pool at once, each row once


class _Scale:
    """A picklable stand-in with UMAP's ``transform``."""

    def transform(self, X):
        return X * 0.5


@pytest.mark.slow
def test_project_with_a_client_equals_project_without(client):
    from explorer.projection import project

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 8)).astype(np.float32)
    kw = dict(random_state=0, fit_sample_threshold=200, fit_sample_size=150, chunk_size=60,
              show_progress=False, n_epochs=20)
    np.testing.assert_allclose(project(X, client=client, **kw), project(X, **kw), atol=1e-5)


def _pool(tmp_path, n=60):
    rng = np.random.default_rng(1)
    labels = np.where(rng.random(n) < 0.2, "rare", "common")
    df = pd.DataFrame({"text": [f"{lab} row {i} word{i % 9}" for i, lab in enumerate(labels)],
                       "label": labels})
    path = tmp_path / "pool.csv"
    df.to_csv(path, index=False)
    return path


def test_prepare_with_a_client_caches_like_the_local_path(client, tmp_path):
    path = _pool(tmp_path)
    a = prepare(path, cache_dir=tmp_path / "a", encoder=HashEncoder(), projection=False,
                progress=False, client=client, partition_size=8)
    b = prepare(path, cache_dir=tmp_path / "b", encoder=HashEncoder(), projection=False,
                progress=False)
    np.testing.assert_array_equal(np.asarray(a.embeddings), np.asarray(b.embeddings))
    assert a.client is client and b.client is None
    c = prepare(path, cache_dir=tmp_path / "a", encoder=HashEncoder(), projection=False,
                progress=False)
    assert c.sources["embeddings"] == "cache"


def test_cli_save_embeddings_round_trip(tmp_path, capsys, monkeypatch):
    path = _pool(tmp_path)
    vecs = np.random.default_rng(2).normal(size=(60, 5)).astype(np.float32)
    np.save(tmp_path / "in.npy", vecs)
    out = tmp_path / "out" / "vectors.npy"
    assert cli_main(["prepare", str(path), "--cache-dir", str(tmp_path / "c"), "--embeddings",
                     str(tmp_path / "in.npy"), "--no-projection", "--save-embeddings",
                     str(out)]) == 0
    saved = np.load(out, allow_pickle=False)
    assert saved.dtype == np.float32 and saved.shape == (60, 5)
    np.testing.assert_allclose(saved, vecs / np.linalg.norm(vecs, axis=1, keepdims=True),
                               rtol=0, atol=1e-6)
    assert f"saved 60 x 5 float32 embeddings to {out}" in capsys.readouterr().out
    # the mirror: --embeddings reads back what --save-embeddings wrote, as float16 too
    half = tmp_path / "half.npy"
    assert cli_main(["prepare", str(path), "--cache-dir", str(tmp_path / "c"), "--embeddings",
                     str(out), "--no-projection", "--save-embeddings", str(half),
                     "--save-dtype", "float16"]) == 0
    assert np.load(half).dtype == np.float16
    np.testing.assert_allclose(np.load(half).astype(np.float32), saved, atol=1e-3)


def test_cli_save_embeddings_refuses_a_non_npy_name(tmp_path, capsys):
    path = _pool(tmp_path)
    code = cli_main(["prepare", str(path), "--cache-dir", str(tmp_path / "c"), "--embeddings",
                     str(tmp_path / "x.npy"), "--save-embeddings", str(tmp_path / "v.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "--save-embeddings" in err and "must end in .npy" in err


def test_cli_dask_address_errors_are_one_line(tmp_path, capsys):
    path = _pool(tmp_path)
    code = cli_main(["prepare", str(path), "--cache-dir", str(tmp_path / "c"), "--dask",
                     "local:-1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "is not a Dask address" in err


@pytest.mark.slow
def test_real_encoder_on_two_workers_matches_the_local_path(client, tmp_path):
    from explorer.embed import SentenceEncoder

    texts = [f"The {w} sat on the mat for {i} minutes." if i % 2 else f"Prices rose {i} %"
             for i, w in enumerate(["cat", "dog", "bird", "fish"] * 10)]
    enc = SentenceEncoder(device="cpu")
    local = enc.encode(texts)
    X = np.asarray(embed_partitioned(texts, enc, client, partition_size=9, show_progress=False))
    cos = np.sum(X * local, axis=1)
    assert X.shape == local.shape and cos.min() >= 0.9999


@pytest.mark.slow
def test_finetuned_scoring_on_workers_matches_local_scoring(client):
    from explorer.models import FineTunedEncoder

    texts = [f"{'rain and storms' if i % 4 == 0 else 'a quiet day'} number {i}" for i in range(40)]
    y = np.array([1 if i % 4 == 0 else 0 for i in range(12)])
    model = FineTunedEncoder(texts, 2, epochs=1, batch_size=4, max_length=16, device="cpu",
                             random_state=0, client=client, distributed_min_rows=20)
    model.fit(np.arange(12), y)
    ids = np.arange(40)
    p_dask, h_dask = model.predict_proba_and_embed(ids)
    assert model.n_encoded_ == 40
    model._memo, model.client = {}, None  # the same weights, scored in this process
    p_local, h_local = model.predict_proba_and_embed(ids)
    np.testing.assert_allclose(p_dask, p_local, atol=1e-5)
    np.testing.assert_allclose(h_dask, h_local, atol=1e-4)
    assert p_dask.shape == (40, 2) and h_dask.shape == (40, 384)


@pytest.mark.slow
def test_cli_prepare_with_dask_equals_the_local_prepare(tmp_path, capsys):
    path = _pool(tmp_path)
    dask_out, local_out = tmp_path / "dask.npy", tmp_path / "local.npy"
    assert cli_main(["prepare", str(path), "--cache-dir", str(tmp_path / "c1"), "--dask",
                     "local:1", "--no-projection", "--save-embeddings", str(dask_out)]) == 0
    out = capsys.readouterr().out
    assert "dask: 1 workers, 1 threads" in out and "computed on Dask" in out
    assert cli_main(["prepare", str(path), "--cache-dir", str(tmp_path / "c2"),
                     "--no-projection", "--save-embeddings", str(local_out)]) == 0
    a, b = np.load(dask_out), np.load(local_out)
    assert a.shape == b.shape == (60, 384)
    assert np.sum(a * b, axis=1).min() >= 0.9999
