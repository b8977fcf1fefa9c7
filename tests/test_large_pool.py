"""The 10M-row path on small pools: each chunked / blockwise step gives what the in-memory one gives.

Block-written vectors, the compressed (IVF-PQ) index with exact reranking, the placement of rows
through their nearest fitted rows, the synthetic texts made on read.
"""

import json

import numpy as np
import pytest

from explorer._io import NpyBlockWriter
from explorer.exceptions import ParameterError
from explorer.index import IVFPQIndex, build_index, rerank_exact, resolve_kind
from explorer.projection import knn_overlap, place_by_neighbours, placement_quality, project
from explorer.synthetic import make_pool


def clustered(n=6000, d=32, centers=40, scale=0.35, seed=0):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(centers, d))
    X = C[rng.integers(0, centers, n)] + rng.normal(scale=scale, size=(n, d))
    X = X.astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def brute_force(X, q, k):
    S = np.asarray(q, np.float32) @ np.asarray(X, np.float32).T
    ids = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return ids


def recall(ids, ref):
    return np.mean([np.intersect1d(a, b).size / ref.shape[1] for a, b in zip(ids, ref)])


# -- generation block by block --------------------------------------------------------------------

def test_block_writer_writes_what_make_pool_makes_in_memory(tmp_path):
    X, y, c = make_pool(1200, dim=16, n_clusters=10, n_minority_clusters=2, random_state=3)
    path = tmp_path / "x.npy"
    with NpyBlockWriter(path, (1200, 16), np.float16) as out:
        _, y2, c2 = make_pool(1200, dim=16, n_clusters=10, n_minority_clusters=2,
                              random_state=3, dtype=np.float16, out=out)
    back = np.load(path, mmap_mode="r")
    assert back.dtype == np.float16 and back.shape == (1200, 16)
    np.testing.assert_array_equal(back, X.astype(np.float16))
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(c, c2)


def test_block_writer_errors(tmp_path):
    w = NpyBlockWriter(tmp_path / "a.npy", (10, 4), np.float32)
    with pytest.raises(ParameterError, match="rows 5:10 written out of order; write row 0 next"):
        w[5:10] = np.zeros((5, 4))
    with pytest.raises(ParameterError, match=r"a block of shape \(3, 4\) for rows 0:5; give 5 "):
        w[0:5] = np.zeros((3, 4))
    w[0:5] = np.zeros((5, 4))
    with pytest.raises(ParameterError, match="5 of 10 rows written; write every row"):
        w.close()


def test_synthetic_generation_stays_in_one_block_of_memory(tmp_path):
    """The cached path writes through the block writer: the vectors never exist whole in RAM
    (a writable memory map would have them all resident)."""
    from explorer.ui.synthetic import _generate

    X, y, _ = _generate(3000, 384, 0.02, 0, "float16", tmp_path)
    assert isinstance(X, np.memmap) and X.dtype == np.float16
    ref, ref_y, _ = make_pool(3000, dim=384, n_clusters=15, n_minority_clusters=4,
                              minority_share=0.02, random_state=0)
    np.testing.assert_array_equal(X, ref.astype(np.float16))
    np.testing.assert_array_equal(y, ref_y)


# -- the compressed index -------------------------------------------------------------------------

def test_ivfpq_reranked_recall_at_least_095_and_codes_alone_lower():
    X = clustered(8000, d=48)
    rng = np.random.default_rng(1)
    q = X[rng.choice(len(X), 100, replace=False)]
    index = build_index(X, "ivfpq", m=8, nlist=32, rerank=400)
    ref = brute_force(X, q, 50)
    ids, sims = index.search(q, 50)
    assert recall(ids, ref) >= 0.95, index.describe()
    _, raw = index.index_.search(q, 50)  # the PQ codes' own ranking, no reranking
    assert recall(raw, ref) < recall(ids, ref)
    # reranked similarities are the exact ones, best first
    exact = np.einsum("qd,qkd->qk", q, X[ids])
    np.testing.assert_allclose(sims, exact, rtol=1e-5, atol=1e-5)
    assert (np.diff(sims, axis=1) <= 1e-7).all()
    assert "ivfpq" in index.describe() and "reranked exactly" in index.describe()


def test_ivfpq_over_float16_memmap_equals_in_memory(tmp_path):
    """Rows added block by block from a float16 memory map give the same index as from the
    same values in memory."""
    X = clustered(5000, d=32).astype(np.float16)
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    a = build_index(mm, "ivfpq", m=8, nlist=16, nprobe=4, rerank=200)
    b = build_index(np.asarray(X, np.float32), "ivfpq", m=8, nlist=16, nprobe=4, rerank=200)
    q = np.asarray(X[:40], np.float32)
    np.testing.assert_array_equal(a.search(q, 20)[0], b.search(q, 20)[0])


def test_ivfpq_excludes_saves_reloads_and_reranks_over_the_pool(tmp_path):
    X = clustered(4000, d=32)
    first = build_index(X, "ivfpq", m=8, nlist=16, cache_dir=tmp_path, key="k")
    again = build_index(X, "ivfpq", m=8, nlist=16, cache_dir=tmp_path, key="k")
    assert first.source_ == "computed" and again.source_ == "cache"
    assert again.X_ is X and again.nprobe_ == first.nprobe_
    exclude = np.arange(0, 4000, 3)
    a = first.search(X[:20], 30, exclude=exclude)
    b = again.search(X[:20], 30, exclude=exclude)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.isin(a[0], exclude).any() and (a[0] >= 0).all()


def test_rerank_exact_keeps_the_best_candidates_and_pads():
    X = clustered(300, d=16)
    q = X[:3]
    cand = np.array([[5, 0, 7, -1], [1, 2, -1, -1], [9, 8, 7, 6]])
    sims, ids = rerank_exact(X, q, cand, 3, chunk=2)  # chunked reads give the same answer
    for i in range(3):
        c = cand[i][cand[i] >= 0]
        order = c[np.argsort(-(X[c] @ q[i]), kind="stable")][:3]
        assert list(ids[i][ids[i] >= 0]) == list(order)
    assert ids[1, 2] == -1 and np.isneginf(sims[1, 2])
    assert ids[0, 0] == 0  # the query row itself is its best candidate


def test_auto_uses_the_compressed_index_above_two_million_rows():
    assert resolve_kind("auto", 2_000_000) == "ivf"
    assert resolve_kind("auto", 2_000_001) == "ivfpq"
    assert resolve_kind("auto", 10_000_000) == "ivfpq"


def test_ivfpq_errors():
    X = clustered(600, d=30)
    with pytest.raises(ParameterError, match="m=8 must divide the 30 dimensions"):
        IVFPQIndex(m=8, nlist=4).fit(X)
    with pytest.raises(ParameterError, match="choose one of auto, exact, ivf, ivfpq, hnsw"):
        build_index(X, "pq")


# -- the layout: placement through the nearest fitted rows -----------------------------------------

def blobs(n=3000, d=24, seed=0):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(6, d)) * 3
    lab = np.arange(n) % 6
    X = (C[lab] + rng.normal(size=(n, d))).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True), lab


def test_placement_in_blocks_equals_one_block_and_is_seeded():
    X, lab = blobs()
    fit = np.arange(0, 3000, 5)
    rest = np.setdiff1d(np.arange(3000), fit)
    spread = np.random.default_rng(0).normal(scale=0.3, size=(len(fit), 2))
    fit_coords = (np.stack([lab[fit] * 10.0, lab[fit] * -3.0], axis=1) + spread
                  ).astype(np.float32)
    one = place_by_neighbours(X, rest, X[fit], fit_coords, random_state=2)
    blocks = place_by_neighbours(X, rest, X[fit], fit_coords, random_state=2, block_rows=97)
    np.testing.assert_allclose(one, blocks, atol=1e-4)
    # each row lands near its own blob's fitted rows (its neighbours are in its blob)
    assert (np.abs(one[:, 0] - lab[rest] * 10.0) < 2.0).mean() > 0.98
    other = place_by_neighbours(X, rest, X[fit], fit_coords, random_state=3)
    assert not np.allclose(one, other)  # the jitter is seeded
    still = place_by_neighbours(X, rest, X[fit], fit_coords, random_state=2, jitter=0.0)
    assert np.abs(still - one).max() > 0 and np.abs(still - one).mean() < 1.0


def test_placement_reads_float16_memmap_rows(tmp_path):
    X, lab = blobs(1500)
    path = tmp_path / "x.npy"
    np.save(path, X.astype(np.float16))
    mm = np.load(path, mmap_mode="r")
    fit = np.arange(0, 1500, 4)
    rest = np.setdiff1d(np.arange(1500), fit)
    fc = np.stack([lab[fit], lab[fit]], axis=1).astype(np.float32)
    a = place_by_neighbours(mm, rest, X[fit], fc, block_rows=128)
    b = place_by_neighbours(X.astype(np.float16).astype(np.float32), rest, X[fit], fc)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_quality_measures_prefer_a_faithful_layout():
    X, lab = blobs(800)
    rng = np.random.default_rng(0)
    good = np.stack([lab * 10.0, np.zeros(800)], axis=1) + rng.normal(size=(800, 2))
    bad = rng.normal(size=(800, 2))
    q = placement_quality(X, {"good": good, "bad": bad}, k=10)
    assert q["good"]["trustworthiness"] > q["bad"]["trustworthiness"]
    assert knn_overlap(X, good, 10) > knn_overlap(X, bad, 10)
    assert 0.0 <= q["bad"]["knn_overlap"] <= 1.0


@pytest.mark.slow
def test_project_with_placement_writes_its_quality_report(tmp_path):
    X, lab = blobs(1200)
    path = tmp_path / "c.npy"
    coords = project(X, random_state=0, fit_sample_threshold=500, fit_sample_size=600,
                     placement="neighbours", quality_sample=200, cache_path=path,
                     show_progress=False)
    assert coords.shape == (1200, 2) and np.isfinite(coords).all()
    report = json.loads((tmp_path / "c.npy.json").read_text())
    assert report["fit_sample"] == 600 and report["placed"] == 600
    assert set(report["quality"]) == {"neighbours", "umap_transform"}
    assert report["quality"]["neighbours"]["trustworthiness"] > 0.8
    np.testing.assert_array_equal(project(None, cache_path=path), coords)


def test_project_placement_error():
    with pytest.raises(ParameterError, match="placement='tsne' is unknown; use one of transform"):
        project(np.ones((20, 4), np.float32), placement="tsne")


# -- texts made on read ---------------------------------------------------------------------------

def test_synthetic_texts_read_like_an_array():
    from explorer.ui.synthetic import SyntheticTexts

    y = np.array([0, 1, 0, 0, 1])
    t = SyntheticTexts(y)
    full = [t[i] for i in range(5)]
    assert full[1] == "synthetic row 1: meeting rare" and full[0].endswith("common")
    assert len(t) == 5 and list(t) == full and t[-1] == full[4]
    assert list(t[np.array([4, 0])]) == [full[4], full[0]]
    assert list(t[np.array([True, False, False, False, True])]) == [full[0], full[4]]
    assert list(t[1:3]) == full[1:3] and t[np.array([2])].dtype == object
    assert list(np.asarray(t)) == full
    with pytest.raises(IndexError, match="row 5 is outside the pool of 5 rows"):
        t[5]


# -- a full-pool round the live app cannot afford is refused, with its projected cost -------------

def _pool_stub(n, dtype="float16"):
    from types import SimpleNamespace

    ds = SimpleNamespace(classes=("common", "rare"), minority=(1,), n=n, n_classes=2)
    return SimpleNamespace(dataset=ds, embeddings=SimpleNamespace(shape=(n, 384),
                                                                  dtype=np.dtype(dtype)))


def test_full_pool_round_projection():
    from explorer.cost import FULL_POOL_SECONDS_PER_ROW, full_pool_round

    at_1m = full_pool_round(999_900, "badge", itemsize=4)
    assert at_1m.live  # 1M as before: BADGE's 21 s round runs live
    assert at_1m.seconds == pytest.approx(999_900 * FULL_POOL_SECONDS_PER_ROW["badge"])
    ent = full_pool_round(9_999_900, "entropy", itemsize=2)
    assert not ent.live and ent.read_bytes == 9_999_900 * 384 * 2
    assert "full-pool entropy round over 9,999,900 rows is projected at 13 s" in ent.describe()
    badge = full_pool_round(9_999_900, "badge", itemsize=2)
    assert not badge.live and badge.built_bytes > 9_999_900 * 384 * 4
    assert full_pool_round(9_999_900, "random").live
    with pytest.raises(ParameterError, match="strategy='bald' has no measured full-pool cost"):
        full_pool_round(10, "bald")


def test_settings_refuse_a_full_pool_round_past_the_live_limits():
    from explorer.ui.settings_state import SettingsState

    big = SettingsState(_pool_stub(10_000_000))
    assert big.filters == ["anchoral"] and "Full pool is not compared live" in big.full_pool_note
    big.validate()
    big.filters = ["anchoral", "full"]
    with pytest.raises(ParameterError, match="filters includes 'full', but a full-pool entropy "
                                             "round over 9,999,900 rows is projected at 13 s"):
        big.validate()
    asked = SettingsState(_pool_stub(10_000_000), filters=["anchoral", "full"])
    assert asked.filters == ["anchoral", "full"] and asked.full_pool_note == ""
    small = SettingsState(_pool_stub(1_000_000, "float32"))
    assert small.filters == ["anchoral", "full"] and small.full_pool_note == ""
    small.validate()


def test_a_fractional_test_split_is_capped_for_large_pools(monkeypatch):
    from types import SimpleNamespace

    from explorer import splits

    ds = SimpleNamespace(y=np.arange(5000) % 2, split=None, classes=("a", "b"), n=5000)
    _, test = splits.holdout_split(ds, 0.2, 0)
    assert len(test) == 1000
    monkeypatch.setattr(splits, "MAX_TEST_ROWS", 300)
    train, test = splits.holdout_split(ds, 0.2, 0)
    assert len(test) == 300 and len(train) == 4700
    assert len(splits.holdout_split(ds, 400, 0)[1]) == 400  # a row count is kept as given


def test_map_colouring_by_value_is_refused_when_scoring_the_pool_is_not_live(monkeypatch):
    from explorer import cost
    from explorer.ui.state import ExplorerState
    from explorer.ui.synthetic import synthetic_prepared

    p = synthetic_prepared(1200, projection="generated")
    st = ExplorerState(p, filters=["anchoral"], n_neighbors=10, init_size=40, query_size=5)
    st.step()
    assert st.pool_values("probability").shape == (1200,)
    monkeypatch.setattr(cost, "LIVE_ROUND_LIMIT_BYTES", 1000)
    st.version += 1  # a new round: the cached values are not reused
    assert st.pool_values("probability") is None
    assert "Colouring by probability needs every row scored, and a full-pool entropy round " \
           "over 1,200 rows" in st.job.status



def test_serve_without_filters_leaves_the_choice_to_the_app():
    import argparse

    from explorer.ui.serving import add_arguments, options_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    opts = options_from_args(parser.parse_args(["synthetic:10000000"]))
    assert "filters" not in opts["settings"]  # SettingsState drops 'full' at 10M rows
    opts = options_from_args(parser.parse_args(["synthetic:10000000", "--filters", "full"]))
    assert opts["settings"]["filters"] == ["full"]
    with pytest.raises(ParameterError, match=r"--filters='x': unknown filter\(s\) \['x'\]"):
        options_from_args(parser.parse_args(["--filters", "x"]))
