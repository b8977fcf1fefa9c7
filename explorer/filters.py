"""Pool filters: each round, shrink the unlabelled pool to a subpool, then run a base strategy on it.

A filter wraps a :class:`~explorer.strategies.QueryStrategy` and only ever passes it the subpool's
global ids, so the base strategy (and the model's forward passes) see nothing else.

* :class:`AnchorAL`      anchors per class from the labelled set -> k-NN retrieval -> top-M subpool
* :class:`FullPool`      the whole unlabelled pool (the usual AL baseline)
* :class:`RandomSubpool` a fresh uniform sample of M unlabelled rows each round (RandSub)
* :class:`SEALS`         cumulative union of the k-NN of every labelled row (Coleman et al., 2022)

``select(ctx, n, rng) -> Selection`` with the queried ids, their scores, the subpool, the anchors,
the provenance (which anchor retrieved what, at which similarity), the timings and the cost counts
(candidates the base strategy scored, texts the model was asked to score or embed).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.utils import check_random_state

from . import registry
from ._arrays import unique_ids
from ._validation import check_choice, check_float, check_int, check_name
from .exceptions import ParameterError
from .rowio import take
from .strategies import QueryStrategy, make_strategy
from .strategies.scores import entropy, top_n

ANCHOR_STRATEGIES = tuple(registry.ANCHOR_STRATEGIES)
SAMPLING = tuple(registry.SAMPLING)
_EMPTY_I = np.empty(0, np.int64)
_EMPTY_F = np.empty(0, np.float64)


@dataclass
class PoolContext:
    """What a filter may look at in one round (all arrays hold global row ids).

    Attributes
    ----------
    model : Classifier
        Fitted on ``labelled``.
    index : NeighborIndex
        Over the frozen embeddings of every row.
    embeddings : array (n, d)
        Frozen unit embeddings (anchor choice happens in the retrieval space).
    labelled, labels : int64 arrays (L,)
        Labelled ids and their class indices.
    unlabelled : int64 array (U,)
        Ids that may be queried (sorted; no labelled, held-out or skipped id).
    excluded : int64 array of ids, or boolean mask of shape (n,)
        Rows retrieval must never return (labelled, held-out test rows, skipped).
    n_classes : int
    minority : tuple of int
    round : int
    """

    model: object
    index: object
    embeddings: np.ndarray
    labelled: np.ndarray
    labels: np.ndarray
    unlabelled: np.ndarray
    excluded: np.ndarray
    n_classes: int
    minority: tuple = ()
    round: int = 0


@dataclass
class Selection:
    """One round's selection.

    Attributes
    ----------
    ids : int64 (q,)            queried ids, best first
    scores : float64 (q,)       base-strategy score of each queried id
    anchor_id : int64 (q,)      the anchor that retrieved it with the highest similarity; -1 = none
    similarity : float64 (q,)   that anchor's cosine similarity; NaN = none
    subpool : int64 (m,)        the candidates the base strategy saw
    subpool_score : float64 (m,) AnchorAL: mean similarity over the anchors that retrieved each
                                member (the subpool ranking score); SEALS: best similarity; NaN else
    anchors : int64 (a,)        AnchorAL: the round's anchors; SEALS: the labelled ids searched
                                this round; empty for FullPool / RandomSubpool
    pairs : dict of arrays      every (member, anchor, similarity) retrieval pair of the subpool:
                                ``{"id": int64, "anchor_id": int64, "similarity": float64}``
    t_retrieval, t_scoring, t_selection : float, seconds
        Subpool construction (anchors + search + ranking), base strategy (forward passes +
        scoring + picking), and the whole selection step (``time.perf_counter``).
    n_unlabelled : int          the unlabelled pool the filter started from
    n_encoded : int             distinct rows the model was asked to score or embed (subpool,
                                plus labelled rows for ``anchor_strategy="entropy"``; 0 for the
                                random strategy): what a fine-tuned encoder must encode
    """

    ids: np.ndarray
    scores: np.ndarray
    anchor_id: np.ndarray
    similarity: np.ndarray
    subpool: np.ndarray
    subpool_score: np.ndarray
    anchors: np.ndarray
    pairs: dict = field(default_factory=dict)
    t_retrieval: float = 0.0
    t_scoring: float = 0.0
    t_selection: float = 0.0
    n_unlabelled: int = 0
    n_encoded: int = 0

    @property
    def n_scored(self) -> int:
        """Candidates the base strategy scored (the subpool's size)."""
        return len(self.subpool)


class _CountingModel:
    """Forwards to a model and remembers every row id it is asked to score or embed."""

    def __init__(self, model):
        self._model = model
        self._asked = []

    def _note(self, ids):
        self._asked.append(np.asarray(ids, np.int64).ravel())
        return ids

    def predict_proba(self, ids):
        return self._model.predict_proba(self._note(ids))

    def embed(self, ids):
        return self._model.embed(self._note(ids))

    def __getattr__(self, name):
        attr = getattr(self._model, name)  # AttributeError when the model lacks it
        if name == "predict_proba_and_embed":
            return lambda ids: attr(self._note(ids))
        return attr

    @property
    def n_asked(self) -> int:
        return len(unique_ids(np.concatenate(self._asked))) if self._asked else 0


@dataclass
class _Subpool:
    ids: np.ndarray
    score: np.ndarray | None = None
    anchors: np.ndarray = field(default_factory=lambda: _EMPTY_I)
    pair_id: np.ndarray = field(default_factory=lambda: _EMPTY_I)
    pair_anchor: np.ndarray = field(default_factory=lambda: _EMPTY_I)
    pair_sim: np.ndarray = field(default_factory=lambda: _EMPTY_F)


class PoolFilter:
    """Base class: ``_subpool(ctx, n, rng) -> _Subpool``; the base strategy runs on its ids."""

    name = "base"

    def __init__(self, base=None):
        self.base = base

    def check_params(self):
        """Raise :class:`ParameterError` if a parameter is out of range (called by ``select``)."""
        if not isinstance(self.base, QueryStrategy):
            raise ParameterError(
                f"base={self.base!r} must be a QueryStrategy, e.g. Entropy() or "
                "make_strategy('entropy')"
            )

    def reset(self):
        """Forget state kept across rounds (SEALS); a no-op for stateless filters."""
        return self

    def select(self, ctx, n, rng=None) -> Selection:
        """Choose up to ``n`` ids to label this round; see :class:`Selection`."""
        self.check_params()
        check_int("n", n)
        rng = check_random_state(rng)
        counting = _CountingModel(ctx.model)
        ctx = dataclasses.replace(ctx, model=counting)
        t0 = time.perf_counter()
        sub = self._subpool(ctx, int(n), rng)
        ids = sub.ids
        if len(ids) < min(n, len(ctx.unlabelled)):  # too few retrieved: top up at random
            rest = np.setdiff1d(ctx.unlabelled, ids)
            extra = rng.choice(rest, size=min(n, len(ctx.unlabelled)) - len(ids), replace=False)
            ids = np.concatenate([ids, np.sort(extra)])
            if sub.score is not None:
                sub.score = np.concatenate([sub.score, np.full(len(extra), np.nan)])
        t1 = time.perf_counter()
        q_ids, q_scores = self.base.query(ctx.model, ids, int(n), rng)
        t2 = time.perf_counter()
        anchor_id, sim = _best_anchor(q_ids, sub.pair_id, sub.pair_anchor, sub.pair_sim)
        keep = np.isin(sub.pair_id, ids)
        sel = Selection(
            ids=q_ids, scores=q_scores, anchor_id=anchor_id, similarity=sim, subpool=ids,
            subpool_score=(sub.score if sub.score is not None else np.full(len(ids), np.nan)),
            anchors=sub.anchors,
            pairs={"id": sub.pair_id[keep], "anchor_id": sub.pair_anchor[keep],
                   "similarity": sub.pair_sim[keep].astype(np.float64)},
            t_retrieval=t1 - t0, t_scoring=t2 - t1, n_unlabelled=len(ctx.unlabelled),
        )
        sel.t_selection = time.perf_counter() - t0
        sel.n_encoded = counting.n_asked  # counted outside the timings
        return sel

    def _subpool(self, ctx, n, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    #: constructor parameters after ``base``, in order (``__repr__`` prints them)
    _params = ()

    def __repr__(self):
        args = [f"base={self.base!r}"] + [f"{k}={getattr(self, k)!r}" for k in self._params]
        return f"{type(self).__name__}({', '.join(args)})"


def _best_anchor(ids, pair_id, pair_anchor, pair_sim):
    """Per id, the retrieving anchor with the highest similarity (-1 / NaN when none)."""
    anchor = np.full(len(ids), -1, np.int64)
    sim = np.full(len(ids), np.nan)
    if len(ids) == 0 or len(pair_id) == 0:
        return anchor, sim
    order = np.lexsort((-pair_sim, pair_id))  # by id, then best similarity first
    pid = pair_id[order]
    first = np.r_[True, pid[1:] != pid[:-1]]
    uid, ua, us = pid[first], pair_anchor[order][first], pair_sim[order][first]
    pos = np.searchsorted(uid, ids)
    pos = np.clip(pos, 0, len(uid) - 1)
    hit = uid[pos] == ids
    anchor[hit] = ua[pos[hit]]
    sim[hit] = us[pos[hit]]
    return anchor, sim


def _in_pool(ctx, ids):
    """Boolean mask: which of ``ids`` are in ``ctx.unlabelled`` (sorted), by binary search."""
    unl = np.asarray(ctx.unlabelled, np.int64)
    if not len(unl):
        return np.zeros(len(ids), bool)
    pos = np.minimum(np.searchsorted(unl, ids), len(unl) - 1)
    return unl[pos] == ids


def _kmeanspp(X, k, seed):
    """Greedy k-means++ seeding, row positions: scikit-learn's ``kmeans_plusplus`` algorithm and
    random draws (``RandomState(seed)``, 2 + log k local trials, float64 distances), without its
    per-call validation, which took ~75 % of a 10k-row AnchorAL round."""
    rs = np.random.RandomState(seed)
    X = np.asarray(X, np.float64)
    m = len(X)
    sq = np.einsum("ij,ij->i", X, X)

    def d2(c):  # squared distances of rows c to every row, (len(c), m)
        return np.maximum(sq[c][:, None] - 2 * (X[c] @ X.T) + sq[None, :], 0)

    first = int(rs.choice(m, p=np.full(m, 1.0 / m)))  # as sklearn draws it (uniform weights)
    centers = [first]
    closest = d2(np.array([first]))[0]
    pot = closest.sum()
    trials = 2 + int(np.log(k))
    for _ in range(1, k):
        cand = np.searchsorted(np.cumsum(closest), rs.uniform(size=trials) * pot)
        cand = np.minimum(cand, m - 1)
        dist = np.minimum(closest[None, :], d2(cand))
        cand_pot = dist.sum(1)
        best = int(np.argmin(cand_pot))
        centers.append(int(cand[best]))
        pot, closest = cand_pot[best], dist[best]
    return np.array(centers, np.int64)


def _search(ctx, anchors, k):
    """k-NN of ``anchors`` (global ids) among the non-excluded rows, as retrieval pairs."""
    if len(anchors) == 0:
        return _EMPTY_I, _EMPTY_I, _EMPTY_F
    nn, sims = ctx.index.search(np.asarray(take(ctx.embeddings, anchors), np.float32), k,
                                exclude=ctx.excluded)
    valid = nn >= 0
    pair_anchor = np.broadcast_to(np.asarray(anchors, np.int64)[:, None], nn.shape)[valid]
    return nn[valid].astype(np.int64), pair_anchor.astype(np.int64), sims[valid].astype(np.float64)


class FullPool(PoolFilter):
    """The base strategy over the whole unlabelled pool."""

    name = "full"

    def _subpool(self, ctx, n, rng):
        return _Subpool(ids=np.asarray(ctx.unlabelled, np.int64))


class RandomSubpool(PoolFilter):
    """RandSub: a fresh uniform random sample of ``subpool_size`` unlabelled rows every round."""

    name = "randsub"
    _params = ("subpool_size",)

    def __init__(self, base=None, subpool_size=10_000):
        super().__init__(base)
        self.subpool_size = subpool_size

    def check_params(self):
        super().check_params()
        check_int("subpool_size", self.subpool_size)

    def _subpool(self, ctx, n, rng):
        pool = np.asarray(ctx.unlabelled, np.int64)
        if len(pool) <= self.subpool_size:
            return _Subpool(ids=pool)
        return _Subpool(ids=np.sort(rng.choice(pool, size=self.subpool_size, replace=False)))


class SEALS(PoolFilter):
    """SEALS (Coleman et al., AAAI 2022): the subpool is the cumulative union of the
    ``n_neighbors`` nearest unlabelled rows of every labelled row; it grows without a cap.

    The first round searches around every labelled row; later rounds search only around the rows
    labelled since (``last_searched_``). Rows labelled meanwhile leave the subpool.
    """

    name = "seals"
    _params = ("n_neighbors",)

    def __init__(self, base=None, n_neighbors=50):
        super().__init__(base)
        self.n_neighbors = n_neighbors

    def check_params(self):
        super().check_params()
        check_int("n_neighbors", self.n_neighbors)

    def reset(self):
        for attr in ("searched_", "pair_id_", "pair_anchor_", "pair_sim_", "last_searched_"):
            self.__dict__.pop(attr, None)
        return self

    def _subpool(self, ctx, n, rng):
        if not hasattr(self, "searched_"):
            self.searched_ = _EMPTY_I
            self.pair_id_, self.pair_anchor_, self.pair_sim_ = _EMPTY_I, _EMPTY_I, _EMPTY_F
        new = np.setdiff1d(np.asarray(ctx.labelled, np.int64), self.searched_)
        pid, pa, ps = _search(ctx, new, self.n_neighbors)
        self.searched_ = np.union1d(self.searched_, new)
        self.pair_id_ = np.concatenate([self.pair_id_, pid])
        self.pair_anchor_ = np.concatenate([self.pair_anchor_, pa])
        self.pair_sim_ = np.concatenate([self.pair_sim_, ps])
        self.last_searched_ = new
        ids = unique_ids(self.pair_id_)
        ids = ids[_in_pool(ctx, ids)]  # O(pairs log U), not a sort of the whole pool
        keep = np.isin(self.pair_id_, ids)
        _, best = _best_anchor(ids, self.pair_id_[keep], self.pair_anchor_[keep],
                               self.pair_sim_[keep])
        return _Subpool(ids=ids, score=best, anchors=new, pair_id=self.pair_id_[keep],
                        pair_anchor=self.pair_anchor_[keep], pair_sim=self.pair_sim_[keep])


class AnchorAL(PoolFilter):
    """AnchorAL (Lesci & Vlachos, "AnchorAL: Computationally Efficient Active Learning for Large
    and Imbalanced Datasets", NAACL 2024).

    Each round, for every class (or every minority class with ``minority_only``), choose
    ``n_anchors`` anchors among its labelled rows (all of them when it has fewer); retrieve each
    anchor's ``n_neighbors`` most similar unlabelled rows from the index; score each retrieved
    row by its mean similarity over the anchors that retrieved it; keep the ``subpool_size`` best
    (``sampling="topk"``) or sample that many with probabilities ``softmax(score / temperature)``
    (``sampling="softmax"``); run the base strategy on that subpool only. When the unlabelled pool
    has at most ``subpool_size`` rows, the base strategy runs on the whole pool (no anchors).

    Parameters
    ----------
    base : QueryStrategy
    n_anchors : int, default 10
        Anchors per class.
    n_neighbors : int, default 50
        Neighbours retrieved per anchor (k).
    subpool_size : int, default 10_000
        M, the subpool size.
    anchor_strategy : {"kmeans++", "kmeans", "random", "entropy"}
        ``kmeans++``: k-means++ seeding on the class's labelled embeddings (a new draw from the
        run's seeded RNG every round, so anchors change); ``kmeans``: the row nearest each k-means
        centroid; ``random``; ``entropy``: the labelled rows the model is least sure about.
    minority_only : bool, default False
        Take anchors from the minority classes only.
    sampling : {"topk", "softmax"}
    temperature : float, default 1.0
        Softmax temperature when ``sampling="softmax"``.
    """

    name = "anchoral"
    _params = ("n_anchors", "n_neighbors", "subpool_size", "anchor_strategy", "minority_only",
               "sampling", "temperature")

    def __init__(self, base=None, n_anchors=10, n_neighbors=50, subpool_size=10_000,
                 anchor_strategy="kmeans++", minority_only=False, sampling="topk",
                 temperature=1.0):
        super().__init__(base)
        self.n_anchors = n_anchors
        self.n_neighbors = n_neighbors
        self.subpool_size = subpool_size
        self.anchor_strategy = anchor_strategy
        self.minority_only = minority_only
        self.sampling = sampling
        self.temperature = temperature

    def check_params(self):
        super().check_params()
        check_int("n_anchors", self.n_anchors)
        check_int("n_neighbors", self.n_neighbors)
        check_int("subpool_size", self.subpool_size)
        check_choice("anchor_strategy", self.anchor_strategy, ANCHOR_STRATEGIES)
        check_choice("sampling", self.sampling, SAMPLING)
        check_float("temperature", self.temperature, 0)

    def choose_anchors(self, ctx, rng):
        """The round's anchors (global ids), class by class in class order."""
        labelled = np.asarray(ctx.labelled, np.int64)
        labels = np.asarray(ctx.labels, np.int64)
        classes = ctx.minority if self.minority_only else range(ctx.n_classes)
        out = []
        for c in classes:
            members = labelled[labels == c]
            if len(members) <= self.n_anchors:
                out.append(members)
                continue
            out.append(members[self._pick(ctx, members, rng)])
        return np.concatenate(out) if out else _EMPTY_I

    def _pick(self, ctx, members, rng):
        a = self.n_anchors
        if self.anchor_strategy == "random":
            return rng.choice(len(members), size=a, replace=False)
        if self.anchor_strategy == "entropy":
            return top_n(entropy(ctx.model.predict_proba(members)), a, rng)
        X = np.asarray(take(ctx.embeddings, members), np.float32)
        seed = rng.randint(np.iinfo(np.int32).max)
        if self.anchor_strategy == "kmeans++":
            return np.unique(_kmeanspp(X, a, seed))
        from sklearn.cluster import KMeans

        from .strategies.base import _nearest_to_centroids

        km = KMeans(n_clusters=a, n_init=1, random_state=seed).fit(X)
        return _nearest_to_centroids(X, km.cluster_centers_)[0]

    def _subpool(self, ctx, n, rng):
        pool = np.asarray(ctx.unlabelled, np.int64)
        if len(pool) <= self.subpool_size:
            return _Subpool(ids=pool)
        anchors = self.choose_anchors(ctx, rng)
        pid, pa, ps = _search(ctx, anchors, self.n_neighbors)
        uniq, inv = np.unique(pid, return_inverse=True)
        score = np.bincount(inv, weights=ps, minlength=len(uniq)) / np.maximum(
            np.bincount(inv, minlength=len(uniq)), 1)
        m = self.subpool_size
        if len(uniq) > m:
            if self.sampling == "topk":
                pos = np.sort(top_n(score, m))
            else:
                z = score / self.temperature
                p = np.exp(z - z.max())
                p = (p + 1e-300) / (p + 1e-300).sum()
                pos = np.sort(rng.choice(len(uniq), size=m, replace=False, p=p))
            uniq, score = uniq[pos], score[pos]
        keep = np.isin(pid, uniq)
        return _Subpool(ids=uniq, score=score, anchors=anchors, pair_id=pid[keep],
                        pair_anchor=pa[keep], pair_sim=ps[keep])


#: filter classes by name (the names and labels users see: :data:`explorer.registry.FILTERS`)
FILTERS = {"anchoral": AnchorAL, "full": FullPool, "randsub": RandomSubpool, "seals": SEALS}


def make_filter(name, base, *, n_anchors=10, n_neighbors=50, subpool_size=10_000,
                anchor_strategy="kmeans++", minority_only=False, sampling="topk",
                temperature=1.0) -> PoolFilter:
    """A filter by name (``anchoral``, ``full``, ``randsub``, ``seals``) wrapping ``base``
    (a QueryStrategy or a strategy name); parameters a filter does not use are ignored."""
    key = check_name("filter", name, registry.FILTERS)
    base = make_strategy(base)
    if key == "anchoral":
        f = AnchorAL(base, n_anchors=n_anchors, n_neighbors=n_neighbors, subpool_size=subpool_size,
                     anchor_strategy=anchor_strategy, minority_only=minority_only,
                     sampling=sampling, temperature=temperature)
    elif key == "randsub":
        f = RandomSubpool(base, subpool_size=subpool_size)
    elif key == "seals":
        f = SEALS(base, n_neighbors=n_neighbors)
    else:
        f = FullPool(base)
    f.check_params()
    return f
