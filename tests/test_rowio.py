"""Rows of a memory-mapped pool: same values as fancy indexing, without the file's pages resident."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.rowio import PinnedRows, mapped_file, take


def _mapped_rss_kib(path) -> int:
    """Resident KiB of ``path``'s mappings in this process (/proc/self/smaps)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            first = line.split(maxsplit=1)[0] if line.strip() else ""
            if "-" in first and all(c in "0123456789abcdef-" for c in first):  # a mapping
                inside = line.rstrip().endswith(str(path))
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    return total


@pytest.fixture
def pool(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "vectors.npy"
    np.save(path, rng.standard_normal((65_536, 256)).astype(np.float16))  # 32 MiB
    return path, np.load(path, mmap_mode="r")


def test_take_reads_the_same_rows_in_the_asked_order(pool):
    _, X = pool
    ids = np.random.default_rng(1).integers(0, len(X), 5_000)
    ids[:10] = ids[0]  # repeated ids too
    got = take(X, ids, chunk=333)
    assert got.dtype == X.dtype and np.array_equal(got, np.asarray(X)[ids])
    mem = np.asarray(X).copy()
    assert mapped_file(mem) is None and np.array_equal(take(mem, ids), mem[ids])


def test_take_leaves_no_pages_of_the_file_resident_where_indexing_does(pool):
    path, X = pool
    ids = np.random.default_rng(2).integers(0, len(X), 20_000)
    assert mapped_file(X) is not None
    take(X, ids, chunk=1_024)
    after_take = _mapped_rss_kib(path)
    _ = X[np.sort(ids)]  # plain indexing of the same rows: their pages stay mapped
    after_indexing = _mapped_rss_kib(path)
    assert after_indexing > 16 * 1024, after_indexing  # the check sees the mapping's pages
    assert after_take < 1024, (after_take, after_indexing)


def test_pinned_rows_answer_like_the_array(pool):
    _, X = pool
    pinned = np.arange(0, len(X), 7)
    P = PinnedRows(X, pinned)
    assert len(P) == len(X) and P.shape == X.shape and P.ndim == 2
    assert P.dtype == np.float32 and P.rows.dtype == np.float32  # converted once, not per read
    full = np.asarray(X).astype(np.float32)
    for ids in (pinned[:50], np.array([3, 7, 8, 14, 65_535]), np.array([], np.int64)):
        got = P[ids]
        assert got.dtype == np.float32 and np.array_equal(got, full[ids])
    assert np.array_equal(P[10:20], full[10:20]) and np.array_equal(P[np.int64(14)], full[14])


def test_an_experiment_on_a_memory_map_pins_its_held_out_rows_and_queries_the_same(tmp_path):
    from explorer.experiment import Experiment
    from explorer.ui.synthetic import synthetic_prepared

    p = synthetic_prepared(3_000, dim=16, minority_share=0.1, projection="generated")
    path = tmp_path / "v.npy"
    np.save(path, np.asarray(p.embeddings))
    import dataclasses

    mapped = dataclasses.replace(p, embeddings=np.load(path, mmap_mode="r"))
    a = Experiment(p, runs=[("anchoral", "entropy")], seed=3)
    b = Experiment(mapped, runs=[("anchoral", "entropy")], seed=3)
    assert isinstance(b.vectors, PinnedRows) and not isinstance(a.vectors, PinnedRows)
    assert np.array_equal(b.vectors.ids, np.unique(b.test_ids)) and len(b.test_ids)
    for _ in range(2):
        ra, rb = a.step()[0], b.step()[0]
        assert ra.queried_ids == rb.queried_ids and len(ra.queried_ids)
        assert ra.minority_f1 == rb.minority_f1
