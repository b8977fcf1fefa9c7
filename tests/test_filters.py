import numpy as np
import pytest

from conftest import make_prepared
from explorer.exceptions import ParameterError
from explorer.filters import (ANCHOR_STRATEGIES, FILTERS, SEALS, AnchorAL, FullPool, PoolContext,
                              RandomSubpool, make_filter)
from explorer.models import LogisticHead
from explorer.strategies import Entropy, QueryStrategy, RandomSampling, make_strategy


def context(prepared, labelled, test=(), model=None, rnd=1):
    y = prepared.dataset.y
    labelled = np.asarray(labelled, np.int64)
    test = np.asarray(test, np.int64)
    n = len(y)
    unl = np.setdiff1d(np.arange(n), np.union1d(labelled, test))
    if model is None:
        model = LogisticHead(prepared.embeddings, 2).fit(labelled, y[labelled])
    return PoolContext(model=model, index=prepared.index, embeddings=prepared.embeddings,
                       labelled=labelled, labels=y[labelled], unlabelled=unl,
                       excluded=np.setdiff1d(np.arange(n), unl), n_classes=2, minority=(1,),
                       round=rnd)


LABELLED = np.r_[0:40, 540:548]
TEST = np.arange(400, 460)


class SpyStrategy(QueryStrategy):
    """Records the candidates the base strategy is given."""

    name = "spy"

    def __init__(self):
        self.seen = []

    def _query(self, model, candidates, n, rng):
        self.seen.append(candidates.copy())
        return Entropy()._query(model, candidates, n, rng)


def all_filters(base="entropy", M=80):
    return [make_filter(name, base, subpool_size=M, n_neighbors=20, n_anchors=5)
            for name in FILTERS]


@pytest.mark.parametrize("name", sorted(FILTERS))
@pytest.mark.parametrize("base", ["entropy", "random", "badge"])
def test_filter_contract(name, base, blobs):
    ctx = context(blobs, LABELLED, TEST)
    sel = make_filter(name, base, subpool_size=80, n_neighbors=20, n_anchors=5).select(ctx, 10, 0)
    assert sel.ids.dtype == np.int64 and len(sel.ids) == 10
    assert len(np.unique(sel.ids)) == 10
    assert np.isin(sel.ids, sel.subpool).all()
    assert np.isin(sel.subpool, ctx.unlabelled).all()
    assert not np.isin(sel.ids, LABELLED).any() and not np.isin(sel.ids, TEST).any()
    assert len(sel.scores) == len(sel.anchor_id) == len(sel.similarity) == 10
    assert len(sel.subpool_score) == len(sel.subpool)
    assert sel.t_selection >= sel.t_retrieval >= 0 and sel.t_scoring >= 0
    again = make_filter(name, base, subpool_size=80, n_neighbors=20, n_anchors=5).select(ctx, 10, 0)
    assert again.ids.tolist() == sel.ids.tolist()
    assert again.subpool.tolist() == sel.subpool.tolist()


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_exhausted_pool(name, blobs):
    labelled = np.setdiff1d(np.arange(600), [5, 300, 599])
    ctx = context(blobs, labelled)
    sel = make_filter(name, "entropy", subpool_size=80, n_neighbors=20).select(ctx, 10, 0)
    assert sorted(sel.ids.tolist()) == [5, 300, 599]


@pytest.mark.parametrize("cls", [AnchorAL, RandomSubpool])
def test_spy_base_sees_at_most_M(cls, blobs):
    spy = SpyStrategy()
    ctx = context(blobs, LABELLED, TEST)
    flt = cls(spy, subpool_size=37) if cls is RandomSubpool else cls(spy, subpool_size=37,
                                                                    n_neighbors=30)
    for rnd in range(3):
        flt.select(ctx, 5, rnd)
    assert spy.seen and all(len(c) <= 37 for c in spy.seen)
    assert all(np.isin(c, ctx.unlabelled).all() for c in spy.seen)


def test_anchoral_anchors_per_class_and_mean_similarity(blobs):
    ctx = context(blobs, LABELLED, TEST)
    flt = AnchorAL(Entropy(), n_anchors=5, n_neighbors=20, subpool_size=50)
    sel = flt.select(ctx, 10, 0)
    labels = blobs.dataset.y[sel.anchors]
    assert (labels == 0).sum() == 5 and (labels == 1).sum() == 5  # 8 minority labelled -> 5
    assert np.isin(sel.anchors, LABELLED).all()
    # subpool score = mean cosine similarity over the anchors that retrieved each member
    X = blobs.embeddings
    for member, score in zip(sel.subpool[:10], sel.subpool_score[:10]):
        mask = sel.pairs["id"] == member
        anchors = sel.pairs["anchor_id"][mask]
        sims = X[anchors] @ X[member]
        np.testing.assert_allclose(sel.pairs["similarity"][mask], sims, rtol=1e-5)
        np.testing.assert_allclose(score, sims.mean(), rtol=1e-5)
    # each queried id: its best retrieving anchor and that similarity
    for i, a, s in zip(sel.ids, sel.anchor_id, sel.similarity):
        mask = sel.pairs["id"] == i
        assert a in sel.pairs["anchor_id"][mask]
        np.testing.assert_allclose(s, sel.pairs["similarity"][mask].max())
    # top-M keeps the M highest mean similarities among everything retrieved
    assert len(sel.subpool) == 50


def test_anchoral_fewer_labelled_than_anchors_uses_all(blobs):
    ctx = context(blobs, np.r_[0:3, 540:542])
    sel = AnchorAL(Entropy(), n_anchors=10, n_neighbors=20, subpool_size=30).select(ctx, 5, 0)
    assert sorted(sel.anchors.tolist()) == [0, 1, 2, 540, 541]


def test_anchoral_minority_only(blobs):
    ctx = context(blobs, LABELLED)
    sel = AnchorAL(Entropy(), n_anchors=5, n_neighbors=20, subpool_size=30,
                   minority_only=True).select(ctx, 5, 0)
    assert (blobs.dataset.y[sel.anchors] == 1).all() and len(sel.anchors) == 5


@pytest.mark.parametrize("how", ANCHOR_STRATEGIES)
def test_anchor_strategies(how, blobs):
    ctx = context(blobs, LABELLED)
    flt = AnchorAL(Entropy(), n_anchors=4, n_neighbors=20, subpool_size=30, anchor_strategy=how)
    a = flt.select(ctx, 5, 0).anchors
    assert len(a) == 8 and len(np.unique(a)) == 8
    assert flt.select(ctx, 5, 0).anchors.tolist() == a.tolist()


def test_kmeanspp_anchors_change_with_the_round_rng(blobs):
    ctx = context(blobs, LABELLED)
    flt = AnchorAL(Entropy(), n_anchors=5, n_neighbors=20, subpool_size=30)
    draws = {tuple(flt.select(ctx, 5, seed).anchors) for seed in range(5)}
    assert len(draws) > 1


def test_anchoral_whole_pool_when_pool_is_small(blobs):
    ctx = context(blobs, LABELLED)
    sel = AnchorAL(Entropy(), subpool_size=10_000).select(ctx, 5, 0)
    assert sel.subpool.tolist() == ctx.unlabelled.tolist() and sel.anchors.size == 0


def test_anchoral_softmax_sampling(blobs):
    ctx = context(blobs, LABELLED)
    flt = AnchorAL(Entropy(), n_anchors=5, n_neighbors=40, subpool_size=50, sampling="softmax",
                   temperature=0.05)
    a, b = flt.select(ctx, 5, 1), flt.select(ctx, 5, 1)
    assert len(a.subpool) == 50 and a.subpool.tolist() == b.subpool.tolist()
    top = AnchorAL(Entropy(), n_anchors=5, n_neighbors=40, subpool_size=50).select(ctx, 5, 1)
    assert a.anchors.tolist() == top.anchors.tolist()


def test_full_pool_is_the_unlabelled_pool(blobs):
    ctx = context(blobs, LABELLED, TEST)
    sel = FullPool(Entropy()).select(ctx, 5, 0)
    assert sel.subpool.tolist() == ctx.unlabelled.tolist()
    assert (sel.anchor_id == -1).all() and np.isnan(sel.similarity).all()


def test_randsub_fresh_sample_each_round(blobs):
    ctx = context(blobs, LABELLED)
    flt = RandomSubpool(RandomSampling(), subpool_size=40)
    a, b = flt.select(ctx, 5, 0), flt.select(ctx, 5, 1)
    assert len(a.subpool) == 40 and a.subpool.tolist() != b.subpool.tolist()


class CountingIndex:
    """Wraps an index; records the query rows of every search."""

    def __init__(self, index, X):
        self.index, self.X, self.queries = index, X, []

    def search(self, queries, k, exclude=None):
        rows = [int(np.argmax(self.X @ q)) for q in np.atleast_2d(queries)]
        self.queries.append(sorted(rows))
        return self.index.search(queries, k, exclude=exclude)


def test_seals_grows_and_searches_only_new_labelled(blobs):
    spy_index = CountingIndex(blobs.index, blobs.embeddings)
    flt = SEALS(Entropy(), n_neighbors=15)
    labelled = LABELLED.copy()
    sizes, pools = [], []
    for rnd in range(4):
        ctx = context(blobs, labelled, rnd=rnd + 1)
        ctx.index = spy_index
        sel = flt.select(ctx, 10, rnd)
        if rnd == 0:
            assert spy_index.queries[-1] == sorted(labelled.tolist())
        else:
            assert spy_index.queries[-1] == sorted(prev_new.tolist())
            assert flt.last_searched_.tolist() == sorted(prev_new.tolist())
            # cumulative: every earlier candidate still unlabelled is still there
            assert np.isin(np.setdiff1d(pools[-1], labelled), sel.subpool).all()
        assert not np.isin(sel.subpool, labelled).any()
        sizes.append(len(flt.pair_id_))
        pools.append(sel.subpool)
        prev_new = sel.ids
        labelled = np.concatenate([labelled, sel.ids])
    assert len(spy_index.queries) == 4
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]
    assert set(sel.anchors.tolist()) == set(flt.last_searched_.tolist())


def test_seals_reset_forgets(blobs):
    flt = SEALS(Entropy(), n_neighbors=15)
    flt.select(context(blobs, LABELLED), 5, 0)
    assert flt.reset() is flt and not hasattr(flt, "searched_")


def test_top_up_when_retrieval_finds_too_few():
    X = np.r_[np.ones((5, 4)) + np.eye(5, 4) * 0.01, -np.ones((30, 4)) + np.random.RandomState(0).
              normal(0, .1, (30, 4))]
    y = np.r_[[1] * 5, [0] * 30]
    p = make_prepared(X, y)
    ctx = context(p, [0, 1, 5, 6])
    sel = AnchorAL(Entropy(), n_anchors=2, n_neighbors=1, subpool_size=10).select(ctx, 8, 0)
    assert len(sel.ids) == 8 and len(np.unique(sel.ids)) == 8


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_anchors=0), r"n_anchors=0 must be an integer >= 1"),
    (dict(n_neighbors=-3), r"n_neighbors=-3 must be an integer >= 1"),
    (dict(subpool_size=0), r"subpool_size=0 must be an integer >= 1"),
    (dict(anchor_strategy="median"), r"anchor_strategy='median' is unknown; choose one of kmeans\+\+"),
    (dict(sampling="nucleus"), r"sampling='nucleus' is unknown; choose one of topk, softmax"),
    (dict(temperature=0), r"temperature=0 must be a number > 0"),
])
def test_anchoral_parameter_errors(kwargs, message, blobs):
    with pytest.raises(ParameterError, match=message):
        AnchorAL(Entropy(), **kwargs).select(context(blobs, LABELLED), 5, 0)


def test_filter_errors(blobs):
    with pytest.raises(ParameterError, match=r"filter='pool2' is unknown; choose one of anchoral"):
        make_filter("pool2", "entropy")
    with pytest.raises(ParameterError, match=r"base='entropy' must be a QueryStrategy"):
        FullPool("entropy").select(context(blobs, LABELLED), 5, 0)
    with pytest.raises(ParameterError, match=r"n=0 must be an integer >= 1"):
        FullPool(make_strategy("entropy")).select(context(blobs, LABELLED), 0, 0)
    with pytest.raises(ParameterError, match=r"n_neighbors=0 must be an integer >= 1"):
        make_filter("seals", "entropy", n_neighbors=0)


def test_anchor_kmeanspp_picks_what_sklearn_picks():
    from sklearn.cluster import kmeans_plusplus

    from explorer.filters import _kmeanspp

    rng = np.random.default_rng(0)
    for _ in range(20):
        m, d, k = int(rng.integers(11, 200)), int(rng.integers(2, 48)), int(rng.integers(1, 11))
        X = rng.normal(size=(m, d)).astype(np.float32)
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        seed = int(rng.integers(2**31 - 1))
        _, expected = kmeans_plusplus(X, n_clusters=k, random_state=seed)
        np.testing.assert_array_equal(_kmeanspp(X, k, seed), expected)


def test_selection_counts_what_was_scored_and_encoded(blobs):
    ctx = context(blobs, LABELLED, TEST)  # 600 rows - 48 labelled - 60 test = 492 unlabelled
    full = FullPool(Entropy()).select(ctx, 5, 0)
    assert full.n_unlabelled == 492 and full.n_scored == 492 and full.n_encoded == 492
    anchor = AnchorAL(Entropy(), n_anchors=5, n_neighbors=20, subpool_size=50).select(ctx, 5, 0)
    assert anchor.n_unlabelled == 492 and anchor.n_scored == len(anchor.subpool) == 50
    assert anchor.n_encoded == 50
    # entropy anchors ask the model about every labelled row of each class too: 40 + 8 more
    ent = AnchorAL(Entropy(), n_anchors=5, n_neighbors=20, subpool_size=50,
                   anchor_strategy="entropy").select(ctx, 5, 0)
    assert ent.n_encoded == 50 + 48
    rand = FullPool(RandomSampling()).select(ctx, 5, 0)  # scores nothing with the model
    assert rand.n_scored == 492 and rand.n_encoded == 0


class CountingEncoder:
    """A stand-in for the fine-tuned encoder: counts the distinct rows it passes forward."""

    def __init__(self, head):
        self.head, self.n_encoded_, self.memo = head, 0, set()

    def predict_proba_and_embed(self, ids):
        new = set(np.asarray(ids).tolist()) - self.memo
        self.memo |= new
        self.n_encoded_ += len(new)
        return self.head.predict_proba(ids), self.head.embed(ids)

    def predict_proba(self, ids):
        return self.predict_proba_and_embed(ids)[0]

    def embed(self, ids):
        return self.predict_proba_and_embed(ids)[1]


@pytest.mark.parametrize("base", ["entropy", "badge", "kmeans"])
def test_encoded_count_matches_an_encoders_own_counter(base, blobs):
    ctx = context(blobs, LABELLED, TEST)
    enc = CountingEncoder(ctx.model)
    sel = make_filter("anchoral", base, subpool_size=60, n_neighbors=20, n_anchors=5).select(
        PoolContext(**{**ctx.__dict__, "model": enc}), 5, 0)
    assert sel.n_encoded == enc.n_encoded_ == 60
