"""explorer.neighbours: k nearest rows of a text or a row, from the pool's index (exact and IVF)."""

import numpy as np
import pytest

from explorer.exceptions import ParameterError
from explorer.index import build_index
from explorer.neighbours import COLUMNS, neighbours

from conftest import make_prepared


class KeywordEncoder:
    """A stand-in encoder: a text's vector is the pool row named by its first word."""

    model_id = "keyword"

    def __init__(self, X):
        self.X = X
        self.calls = []

    def encode(self, texts, show_progress=False):
        self.calls.append(list(texts))
        return np.vstack([self.X[int(t.split()[0])] for t in texts])


def _brute(X, q, k, skip=None):
    sims = X @ q
    if skip is not None:
        sims[skip] = -np.inf
    order = np.argsort(-sims, kind="stable")[:k]
    return order, sims[order]


@pytest.fixture
def pool():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 16))
    y = np.r_[np.zeros(250, int), np.ones(49, int), [-1]]
    prepared = make_prepared(X, y)
    prepared.encoder = KeywordEncoder(prepared.embeddings)
    return prepared


def test_row_query_equals_brute_force_and_leaves_the_row_out(pool):
    res = neighbours(pool, 7, k=10)
    ids, sims = _brute(pool.embeddings, pool.embeddings[7], 10, skip=7)
    assert res.ids.dtype == np.int64 and res.ids.tolist() == ids.tolist()
    np.testing.assert_allclose(res.similarity, sims, rtol=1e-5)
    assert 7 not in res.ids and res.by_row and res.query == 7
    assert res.labels == tuple(pool.dataset.classes[c] for c in pool.dataset.y[ids])
    assert res.texts == tuple(pool.dataset.texts[ids])


def test_text_query_is_encoded_with_the_pools_encoder(pool):
    res = neighbours(pool, "42 is the row", k=5)
    assert pool.encoder.calls == [["42 is the row"]]
    assert res.ids[0] == 42 and res.similarity[0] == pytest.approx(1.0, abs=1e-5)
    assert not res.by_row and res.query == "42 is the row"


def test_frame_columns_ranks_and_unlabelled_rows(pool):
    df = neighbours(pool, 299, k=299).frame()
    assert tuple(df.columns) == COLUMNS and len(df) == 299
    assert df["rank"].tolist() == list(range(1, 300))
    assert df["id"].dtype == np.int64 and 299 not in set(df["id"])
    assert (np.diff(df["similarity"].to_numpy()) <= 1e-6).all()
    # the query row (299) was the only unlabelled one: a text query finds it, with label ""
    df = neighbours(pool, "299", k=1).frame()
    assert df["id"].tolist() == [299] and df["label"].tolist() == [""]


@pytest.mark.parametrize("kind", ["exact", "ivf"])
def test_works_with_the_exact_and_the_ivf_index(kind):
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, 32)) * 3
    X = centres[rng.integers(0, 20, 4000)] + rng.normal(size=(4000, 32))
    prepared = make_prepared(X, np.zeros(4000, int), classes=("a",), minority=())
    prepared.index = build_index(prepared.embeddings, kind=kind)
    assert prepared.index.kind == kind
    res = neighbours(prepared, 11, k=20)
    truth, _ = _brute(prepared.embeddings, prepared.embeddings[11], 20, skip=11)
    assert 11 not in res.ids and len(res) == 20
    assert len(set(res.ids) & set(truth)) >= (20 if kind == "exact" else 17)


@pytest.mark.parametrize("k, query, match", [
    (0, 3, r"^k=0 must be an integer between 1 and 299; the pool has 300 rows besides the "
           r"query row"),
    (300, 3, r"^k=300 must be an integer between 1 and 299"),
    (301, "7 x", r"^k=301 must be an integer between 1 and 300; the pool has 300 rows$"),
    (2.5, "7 x", r"^k=2.5 must be an integer between 1 and 300"),
    (5, "", r"^query='' must be a non-empty text; type some words, or give a row id"),
    (5, "   ", r"^query='   ' must be a non-empty text"),
    (5, 300, r"^query=300 must be an integer between 0 and 299; give a row id of this pool"),
    (5, -1, r"^query=-1 must be an integer between 0 and 299"),
    (5, 1.5, r"^query=1.5 must be a text or a row id \(int\)"),
])
def test_errors(pool, k, query, match):
    with pytest.raises(ParameterError, match=match):
        neighbours(pool, query, k=k)


def test_text_query_on_a_pool_without_an_encoder_says_to_search_by_row():
    from explorer.ui.synthetic import synthetic_prepared

    prepared = synthetic_prepared(600, dim=8, projection="generated")
    assert prepared.encoder is None
    with pytest.raises(ParameterError, match=r"^query='free prize': this pool has no text "
                       r"encoder .* search by row id instead"):
        neighbours(prepared, "free prize", k=3)
    res = neighbours(prepared, 5, k=3)  # rows work
    assert len(res) == 3 and 5 not in res.ids


def test_prepare_keeps_its_encoder_and_a_precomputed_pool_has_none(tmp_path):
    from explorer.embed import SentenceEncoder
    from explorer.prepare import prepare

    p = prepare("sample", cache_dir=tmp_path, projection=False, progress=False)
    assert isinstance(p.encoder, SentenceEncoder)
    np.save(tmp_path / "v.npy", np.asarray(p.embeddings[:], np.float32))
    q = prepare("sample", cache_dir=tmp_path, projection=False, progress=False,
                embeddings=tmp_path / "v.npy")
    assert q.encoder is None


def test_real_encoder_on_the_sample(tmp_path):
    """The shipped sample with the offline MiniLM: a spam-like text finds spam first."""
    from explorer.prepare import prepare

    p = prepare("sample", cache_dir=tmp_path, projection=False, progress=False)
    res = neighbours(p, "Congratulations! You won a free prize, click here to claim", k=10)
    assert len(res) == 10 and res.similarity[0] > 0.4
    assert (np.diff(res.similarity) <= 1e-6).all()
