"""Query strategies: score the candidate rows given, pick a batch.

Every strategy implements ``query(model, candidates, n, rng) -> (ids, scores)``: ``candidates`` are
global row ids, and the strategy asks the model about **those rows only** (never the whole pool).
It returns ``min(n, len(candidates))`` unique ids, best first, and one score per returned id (the
base-strategy score the app shows: entropy, margin, ...; NaN for random).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from .. import registry
from .._arrays import has_duplicates
from .._validation import check_int, check_name
from ..exceptions import ParameterError
from .scores import entropy, least_confidence, margin, top_n


def _check_query(candidates, n):
    cand = np.asarray(candidates)
    if cand.ndim != 1:
        raise ParameterError(f"candidates must be a 1-D array of row ids, got shape {cand.shape}")
    if cand.size and not np.issubdtype(cand.dtype, np.integer):
        raise ParameterError(f"candidates must be integer row ids, got dtype {cand.dtype}")
    cand = cand.astype(np.int64, copy=False)
    n = check_int("n", n, 1, fix="it is the batch size")
    if has_duplicates(cand):
        raise ParameterError("candidates contain duplicate row ids; pass each candidate once")
    return cand, n


class QueryStrategy:
    """Base class. Subclasses implement ``_query(model, candidates, n, rng)`` on clean input."""

    name = "base"
    #: whether the strategy calls the model (random does not)
    needs_model = True

    def query(self, model, candidates, n, rng=None):
        """Pick up to ``n`` of ``candidates``.

        Parameters
        ----------
        model : Classifier
            Fitted; ``predict_proba(ids)`` (and ``embed(ids)`` for BADGE / k-means) on global ids.
        candidates : int array of shape (m,)
            Global row ids to choose from (unique, unlabelled).
        n : int
            Batch size, >= 1.
        rng : None, int or RandomState
            Randomness (tie-breaking, sampling); same seed => same ids.

        Returns
        -------
        ids : int64 array of shape (min(n, m),)
            Chosen global ids, best first, a subset of ``candidates``.
        scores : float64 array of the same shape
            The strategy's score of each chosen id.
        """
        cand, n = _check_query(candidates, n)
        rng = check_random_state(rng)
        if cand.size == 0:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        pos, scores = self._query(model, cand, n, rng)
        return cand[pos], np.asarray(scores, dtype=np.float64)

    def _query(self, model, candidates, n, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class RandomSampling(QueryStrategy):
    """Uniformly random batch (cold start, and the sanity baseline)."""

    name = "random"
    needs_model = False

    def _query(self, model, candidates, n, rng):
        pos = rng.choice(len(candidates), size=min(n, len(candidates)), replace=False)
        return pos.astype(np.int64), np.full(len(pos), np.nan)


class _Uncertainty(QueryStrategy):
    score_fn = staticmethod(entropy)

    def _query(self, model, candidates, n, rng):
        scores = self.score_fn(model.predict_proba(candidates))
        pos = top_n(scores, n, rng)
        return pos, scores[pos]


class Entropy(_Uncertainty):
    """Highest predictive entropy."""

    name = "entropy"
    score_fn = staticmethod(entropy)


class Margin(_Uncertainty):
    """Smallest gap between the two most probable classes (score = 1 - gap)."""

    name = "margin"
    score_fn = staticmethod(margin)


class LeastConfidence(_Uncertainty):
    """Lowest top-class probability (score = 1 - max p)."""

    name = "leastconf"
    score_fn = staticmethod(least_confidence)


#: gradient embeddings above this many floats use the factored k-means++ (no (m, C*h) matrix).
#: Same greedy algorithm as sklearn's; benchmarks/bench_selection measured the dense path ~30x
#: slower per row for 15 classes (m x 5,760 floats), so only small problems go to sklearn.
BADGE_DENSE_MAX = 8_000_000


class BADGE(QueryStrategy):
    """Batch Active learning by Diverse Gradient Embeddings (Ash et al., ICLR 2020).

    Gradient embedding of the last layer under the predicted label,
    ``g_i = (p_i - onehot(argmax p_i)) ⊗ h_i`` with ``h_i = model.embed([i])``, then k-means++
    seeding (:func:`sklearn.cluster.kmeans_plusplus`) picks ``n`` rows. Above
    ``BADGE_DENSE_MAX`` floats the same greedy k-means++ runs on the factored form
    ``<g_i, g_j> = <a_i, a_j><h_i, h_j>`` without materialising the (m, C*h) matrix.
    The score of a chosen row is its gradient-embedding norm.
    """

    name = "badge"

    def _query(self, model, candidates, n, rng):
        proba, H = _proba_and_embed(model, candidates)
        A = proba.copy()
        A[np.arange(len(A)), proba.argmax(axis=1)] -= 1.0
        H = np.asarray(H, dtype=np.float32)
        norms = np.linalg.norm(A, axis=1) * np.linalg.norm(H, axis=1)
        n = min(n, len(candidates))
        seed = rng.randint(np.iinfo(np.int32).max)
        if A.shape[0] * A.shape[1] * H.shape[1] <= BADGE_DENSE_MAX:
            from sklearn.cluster import kmeans_plusplus

            G = (A[:, :, None].astype(np.float32) * H[:, None, :]).reshape(len(A), -1)
            _, pos = kmeans_plusplus(G, n_clusters=n, random_state=seed)
        else:
            pos = _kmeanspp_factored(A.astype(np.float32), H, n, np.random.RandomState(seed))
        pos = _fill_unique(np.asarray(pos, np.int64), len(candidates), n, norms)
        return pos, norms[pos]


def _kmeanspp_factored(A, H, n, rng):
    """Greedy k-means++ (as scikit-learn's) on g_i = a_i ⊗ h_i without building g."""
    m = len(A)
    sq = (A * A).sum(1) * (H * H).sum(1)
    trials = 2 + int(np.log(n))

    def d2(c):  # squared distances of every row to rows c, shape (len(c), m)
        return np.maximum(sq[None, :] + sq[c][:, None] - 2 * (A[c] @ A.T) * (H[c] @ H.T), 0)

    centers = [int(rng.randint(m))]
    closest = d2(np.array(centers))[0]
    for _ in range(1, n):
        pot = closest.sum()
        if pot <= 0:
            break
        cand = np.searchsorted(np.cumsum(closest), rng.uniform(size=trials) * pot)
        cand = np.clip(cand, 0, m - 1)
        dist = np.minimum(closest[None, :], d2(cand))
        best = int(np.argmin(dist.sum(1)))
        centers.append(int(cand[best]))
        closest = dist[best]
    return np.array(centers, np.int64)


def _fill_unique(pos, m, n, scores):
    """Drop repeated positions (duplicate gradient embeddings) and top up by score."""
    _, first = np.unique(pos, return_index=True)
    pos = pos[np.sort(first)]
    if len(pos) < n:
        rest = np.setdiff1d(np.arange(m), pos)
        extra = rest[np.argsort(-scores[rest], kind="stable")][: n - len(pos)]
        pos = np.concatenate([pos, extra])
    return pos


def _proba_and_embed(model, ids):
    both = getattr(model, "predict_proba_and_embed", None)
    if both is not None:
        return both(ids)
    return model.predict_proba(ids), model.embed(ids)


class KMeansDiversity(QueryStrategy):
    """k-means on the model's representation of the candidates; the row nearest each centroid.

    The paper's FTBERTKM analogue. Score = minus the distance to the row's centroid.
    """

    name = "kmeans"

    def _query(self, model, candidates, n, rng):
        from sklearn.cluster import KMeans

        H = np.asarray(model.embed(candidates), dtype=np.float32)
        n = min(n, len(candidates))
        km = KMeans(n_clusters=n, n_init=1, max_iter=100,
                    random_state=rng.randint(np.iinfo(np.int32).max)).fit(H)
        return _nearest_to_centroids(H, km.cluster_centers_)


def _nearest_to_centroids(H, centers):
    """One distinct row per centroid: the nearest row not already taken. Returns (pos, -dist).

    Squared distances as ``|h|^2 + |c|^2 - 2 h.c`` in float64, shape (centroids, rows): a GEMM,
    so full-pool k-means over ~100k rows needs ~20 MB here instead of a (centroids, rows, h)
    difference tensor (several GB).
    """
    H = np.asarray(H, np.float64)
    C = np.asarray(centers, np.float64)
    d = (C * C).sum(1)[:, None] + (H * H).sum(1)[None, :] - 2.0 * (C @ H.T)
    np.maximum(d, 0.0, out=d)
    taken = np.zeros(len(H), bool)
    pos, score = [], []
    for row in d:
        order = np.argsort(row, kind="stable")
        j = order[~taken[order]][0]
        taken[j] = True
        pos.append(j)
        score.append(-float(np.sqrt(row[j])))
    return np.array(pos, np.int64), np.array(score)


STRATEGIES = {
    "random": RandomSampling,
    "entropy": Entropy,
    "margin": Margin,
    "leastconf": LeastConfidence,
    "badge": BADGE,
    "kmeans": KMeansDiversity,
}


def make_strategy(name) -> QueryStrategy:
    """A strategy by name: ``random``, ``entropy``, ``margin``, ``leastconf``, ``badge``, ``kmeans``."""
    if isinstance(name, QueryStrategy):
        return name
    return STRATEGIES[check_name("strategy", name, registry.STRATEGIES)]()
