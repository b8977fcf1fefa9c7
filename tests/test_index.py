"""Vector index: exact equals brute force, ANN recall, exclusion, padding, errors."""

import numpy as np
import pytest

from explorer.exceptions import ParameterError
from explorer.index import AUTO_EXACT_MAX, ExactIndex, build_index


def clustered(n=6000, d=32, centers=40, scale=0.35, seed=0):
    rng = np.random.default_rng(seed)
    C = rng.normal(size=(centers, d))
    X = C[rng.integers(0, centers, n)] + rng.normal(scale=scale, size=(n, d))
    X = X.astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def brute_force(X, q, k, exclude=()):
    S = q @ X.T
    S[:, list(exclude)] = -np.inf
    ids = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return ids, np.take_along_axis(S, ids, axis=1)


def test_exact_equals_numpy_brute_force():
    X = clustered(2000)
    q = X[:25] + 0.01
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    ids, sims = build_index(X, "exact").search(q, 10)
    ref_ids, ref_sims = brute_force(X, q, 10)
    np.testing.assert_allclose(sims, ref_sims, rtol=1e-5, atol=1e-5)
    # ids agree except where two similarities tie to float precision
    assert (ids == ref_ids).mean() > 0.99


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_ann_recall_at_least_095(kind):
    X = clustered(8000, d=48)
    rng = np.random.default_rng(1)
    q = X[rng.choice(len(X), 100, replace=False)]
    index = build_index(X, kind)
    ids, _ = index.search(q, 50)
    ref, _ = brute_force(X, q, 50)
    recall = np.mean([np.intersect1d(a, b).size / 50 for a, b in zip(ids, ref)])
    assert recall >= 0.95, index.describe()
    assert kind in index.describe() and "recall@50" in index.describe()


@pytest.mark.parametrize("kind", ["exact", "ivf", "hnsw"])
def test_excluded_ids_never_returned(kind):
    X = clustered(3000)
    index = build_index(X, kind)
    exclude = np.arange(0, 3000, 3)  # a third of the pool, including every query row
    ids, sims = index.search(X[:30], 40, exclude=exclude)
    assert not np.isin(ids, exclude).any()
    assert (ids >= 0).all() and np.isfinite(sims).all()
    # same index, no exclusion: the query rows find themselves again (nothing was rebuilt)
    ids2, _ = index.search(X[:30], 1)
    assert (ids2[:, 0] == np.arange(30)).mean() > 0.9


def test_padding_when_k_exceeds_available():
    X = clustered(5)
    ids, sims = ExactIndex().fit(X).search(X[:1], 8, exclude=[1, 2])
    assert ids.shape == (1, 8)
    assert sorted(ids[0, :3]) == [0, 3, 4] and (ids[0, 3:] == -1).all()
    assert np.isneginf(sims[0, 3:]).all()


def test_auto_choice_by_size():
    assert build_index(clustered(500), "auto").kind == "exact"
    assert 5_000 <= AUTO_EXACT_MAX < 10_000  # the measured crossover


def test_auto_above_the_crossover_ivf_on_easy_data_exact_on_hard_data():
    from explorer.index import AUTO_IVF_MAX_SCAN

    easy = build_index(clustered(AUTO_EXACT_MAX + 500, d=32, centers=40, scale=0.2), "auto")
    assert easy.kind == "ivf" and easy.nprobe_ / easy.nlist_ <= AUTO_IVF_MAX_SCAN
    assert "auto: ivf scans" in easy.explain()
    rng = np.random.default_rng(0)
    hard = rng.normal(size=(AUTO_EXACT_MAX + 500, 64)).astype(np.float32)  # no clusters at all
    hard /= np.linalg.norm(hard, axis=1, keepdims=True)
    index = build_index(hard, "auto")
    assert index.kind == "exact" and "auto: exact, as ivf needs nprobe=" in index.explain()


def test_errors():
    X = clustered(50)
    with pytest.raises(ParameterError, match="index kind='annoy' is unknown; choose one of auto, exact, ivf, ivfpq, hnsw"):
        build_index(X, "annoy")
    index = build_index(X, "exact")
    with pytest.raises(ParameterError, match="k=0 must be >= 1"):
        index.search(X[:1], 0)
    with pytest.raises(ParameterError, match="queries have 3 dimensions but the index holds 32-d"):
        index.search(np.ones((1, 3)), 5)
    with pytest.raises(ParameterError, match="not built yet"):
        ExactIndex().search(X[:1], 5)


@pytest.mark.parametrize("kind", ["exact", "ivf"])
def test_exclude_as_mask_equals_exclude_as_ids(kind):
    X = clustered(3000)
    index = build_index(X, kind)
    ids = np.arange(1, 3000, 4)
    mask = np.zeros(3000, bool)
    mask[ids] = True
    a = index.search(X[:20], 30, exclude=ids)
    b = index.search(X[:20], 30, exclude=mask)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ParameterError, match=r"exclude as a mask must have shape \(3000,\)"):
        index.search(X[:1], 5, exclude=np.zeros(10, bool))


def test_auto_choice_at_the_crossover():
    from explorer.index import resolve_kind

    assert resolve_kind("auto", AUTO_EXACT_MAX) == "exact"
    assert resolve_kind("auto", AUTO_EXACT_MAX + 1) == "ivf"
    assert resolve_kind("hnsw", 10) == "hnsw"  # an explicit kind is kept at any size
    with pytest.raises(ParameterError, match="index kind='flat' is unknown"):
        resolve_kind("flat", 10)


def test_ivf_trains_on_a_sample_not_all_rows():
    X = clustered(6000)
    index = build_index(X, "ivf", nlist=16, train_per_list=40)
    assert index.n_train_ == 640 and index.nlist_ == 16


def test_ivf_saved_to_cache_and_reloaded_not_rebuilt(tmp_path, monkeypatch):
    from explorer import index as index_mod

    X = clustered(4000)
    first = build_index(X, "ivf", cache_dir=tmp_path)
    assert first.source_ == "computed"
    files = sorted(p.name for p in (tmp_path / "index").iterdir())
    assert len(files) == 2 and files[0].endswith(".faiss") and files[1].endswith(".faiss.json")

    builds = []
    monkeypatch.setattr(index_mod.IVFIndex, "_build",
                        lambda self, X: builds.append(1) or pytest.fail("rebuilt"))
    second = build_index(X, "ivf", cache_dir=tmp_path)
    assert second.source_ == "cache" and builds == []
    assert (second.nlist_, second.nprobe_, second.recall_) == \
        (first.nlist_, first.nprobe_, first.recall_)
    a = first.search(X[:10], 20, exclude=np.arange(0, 4000, 5))
    b = second.search(X[:10], 20, exclude=np.arange(0, 4000, 5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_index_cache_is_keyed_by_embeddings_kind_and_parameters(tmp_path):
    from explorer.index import fingerprint, index_path

    X = clustered(3000)
    Y = X.copy()
    Y[0, 0] += 1e-3  # one value changed: another pool
    assert fingerprint(X) == fingerprint(X.copy()) != fingerprint(Y)
    assert fingerprint(X) != fingerprint(X.astype(np.float16))
    build_index(X, "ivf", cache_dir=tmp_path)
    build_index(X, "ivf", cache_dir=tmp_path, nprobe=4)  # other parameters: another file
    build_index(Y, "ivf", cache_dir=tmp_path)            # other embeddings: another file
    assert len(list((tmp_path / "index").glob("*.faiss"))) == 3
    p1 = index_path(tmp_path, "k", "ivf", {"nprobe": None})
    assert p1 != index_path(tmp_path, "k", "hnsw", {"nprobe": None})
    assert p1 != index_path(tmp_path, "k2", "ivf", {"nprobe": None})


def test_unreadable_cached_index_is_rebuilt(tmp_path):
    X = clustered(3000)
    first = build_index(X, "ivf", cache_dir=tmp_path)
    path = next((tmp_path / "index").glob("*.faiss"))
    path.write_bytes(b"not a faiss index")
    again = build_index(X, "ivf", cache_dir=tmp_path)
    assert again.source_ == "computed" and again.nprobe_ == first.nprobe_
    assert build_index(X, "ivf", cache_dir=tmp_path).source_ == "cache"


def test_exact_index_writes_nothing_to_the_cache(tmp_path):
    X = clustered(500)
    index = build_index(X, "exact", cache_dir=tmp_path)
    assert index.X_ is X and not any(tmp_path.iterdir())
