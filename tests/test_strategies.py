import numpy as np
import pytest

from explorer.exceptions import ParameterError
from explorer.models import LogisticHead
from explorer.strategies import (BADGE, STRATEGIES, Entropy, entropy, least_confidence,
                                 make_strategy, margin, top_n)
from explorer.strategies import base as strategies_base


# -- pure score functions, hand computed ------------------------------------------------------
P = np.array([[0.5, 0.5], [1.0, 0.0], [0.8, 0.2]])


def test_entropy_hand_computed():
    expected = [np.log(2), 0.0, -(0.8 * np.log(0.8) + 0.2 * np.log(0.2))]
    np.testing.assert_allclose(entropy(P), expected)


def test_margin_and_least_confidence_hand_computed():
    np.testing.assert_allclose(margin(P), [1.0, 0.0, 0.4])
    np.testing.assert_allclose(least_confidence(P), [0.5, 0.0, 0.2])
    three = np.array([[0.5, 0.3, 0.2]])
    np.testing.assert_allclose(margin(three), [0.8])


def test_score_functions_reject_1d():
    with pytest.raises(ValueError, match="must be 2-D"):
        entropy([0.5, 0.5])


def test_top_n_orders_best_first_and_caps_n():
    s = np.array([0.1, 0.9, 0.5, 0.7])
    assert top_n(s, 2).tolist() == [1, 3]
    assert top_n(s, 10).tolist() == [1, 3, 2, 0]
    assert top_n(s, 0).tolist() == []


def test_top_n_ties_broken_by_rng_reproducibly():
    s = np.zeros(50)
    a = top_n(s, 5, np.random.RandomState(1))
    b = top_n(s, 5, np.random.RandomState(1))
    assert a.tolist() == b.tolist()
    assert a.tolist() != list(range(5))  # not simply the lowest positions


# -- contract suite over every strategy --------------------------------------------------------
class Spy:
    """Wraps a model and records every id it is asked about."""

    def __init__(self, model):
        self.model, self.seen = model, []
        self.n_classes = model.n_classes

    def predict_proba(self, ids):
        self.seen.append(np.asarray(ids))
        return self.model.predict_proba(ids)

    def embed(self, ids):
        self.seen.append(np.asarray(ids))
        return self.model.embed(ids)


@pytest.fixture
def fitted(blobs):
    model = LogisticHead(blobs.embeddings, 2).fit(np.r_[0:30, 540:550], np.r_[[0] * 30, [1] * 10])
    return model


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategy_contract(name, fitted):
    strategy = make_strategy(name)
    candidates = np.arange(100, 400, 3, dtype=np.int64)
    spy = Spy(fitted)
    ids, scores = strategy.query(spy, candidates, 10, rng=0)
    assert ids.dtype == np.int64 and len(ids) == 10 and len(scores) == 10
    assert len(np.unique(ids)) == 10
    assert np.isin(ids, candidates).all()
    for seen in spy.seen:  # scores only the candidates it was given
        assert np.isin(seen, candidates).all()
    again, _ = strategy.query(fitted, candidates, 10, rng=0)
    assert again.tolist() == ids.tolist()
    # exhausted pool: fewer candidates than n -> all of them
    few, _ = strategy.query(fitted, candidates[:4], 10, rng=0)
    assert sorted(few.tolist()) == sorted(candidates[:4].tolist())
    empty, s = strategy.query(fitted, np.empty(0, np.int64), 5, rng=0)
    assert empty.size == 0 and s.size == 0


def test_entropy_picks_the_most_uncertain(fitted):
    candidates = np.arange(600)
    ids, scores = Entropy().query(fitted, candidates, 5, rng=0)
    all_scores = entropy(fitted.predict_proba(candidates))
    np.testing.assert_allclose(np.sort(scores)[::-1], np.sort(all_scores)[::-1][:5])


def test_badge_factored_path_matches_contract(fitted, monkeypatch):
    monkeypatch.setattr(strategies_base, "BADGE_DENSE_MAX", 0)
    candidates = np.arange(0, 600, 2)
    ids, scores = BADGE().query(fitted, candidates, 12, rng=3)
    assert len(np.unique(ids)) == 12 and np.isin(ids, candidates).all()
    assert np.all(scores >= 0)
    again, _ = BADGE().query(fitted, candidates, 12, rng=3)
    assert ids.tolist() == again.tolist()


def test_unknown_strategy_message():
    with pytest.raises(ParameterError, match=r"strategy='foo' is unknown; choose one of random"):
        make_strategy("foo")


def test_query_errors(fitted):
    with pytest.raises(ParameterError, match=r"n=0 must be an integer >= 1"):
        Entropy().query(fitted, np.arange(5), 0)
    with pytest.raises(ParameterError, match="duplicate row ids"):
        Entropy().query(fitted, np.array([1, 1, 2]), 1)
    with pytest.raises(ParameterError, match="integer row ids"):
        Entropy().query(fitted, np.array([0.5, 1.5]), 1)
    with pytest.raises(ParameterError, match="1-D array"):
        Entropy().query(fitted, np.zeros((2, 2), int), 1)


def test_nearest_to_centroids_distinct_rows_hand_computed():
    H = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]])
    # centroid 0.4 -> row 0 (0.4 away); 10.6 -> row 3 (0.4; row 2 is 0.6 away)
    pos, score = strategies_base._nearest_to_centroids(H, np.array([[0.4, 0.0], [10.6, 0.0]]))
    assert pos.tolist() == [0, 3]
    assert score == pytest.approx([-0.4, -0.4])
    # two centroids nearest the same row: the second takes the nearest row still free (row 1,
    # sqrt(0.8^2 + 1^2) away from (0.2, 1))
    pos, score = strategies_base._nearest_to_centroids(H, np.array([[0.1, 0.0], [0.2, 1.0]]))
    assert pos.tolist() == [0, 1]
    assert score == pytest.approx([-0.1, -np.hypot(0.8, 1.0)])
