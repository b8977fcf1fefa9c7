"""Pure score functions and selectors.

Score functions map class probabilities of shape (m, C) to informativeness scores of shape (m,),
higher = more informative. Selectors turn scores into positions. Neither touches ids or models.
"""

from __future__ import annotations

import numpy as np


def _proba(proba):
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"proba must be 2-D (n_samples, n_classes), got shape {p.shape}")
    return p


def entropy(proba):
    """Shannon entropy of each row, ``-sum p log p`` (natural log), shape (m,)."""
    p = _proba(proba)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -(p * logp).sum(axis=1)


def margin(proba):
    """One minus the gap between the two most probable classes, ``1 - (p_(1) - p_(2))``, shape (m,)."""
    p = _proba(proba)
    if p.shape[1] < 2:
        return np.zeros(len(p))
    top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def least_confidence(proba):
    """One minus the highest class probability, ``1 - max_c p_c``, shape (m,)."""
    p = _proba(proba)
    return 1.0 - p.max(axis=1)


def top_n(scores, n, rng=None):
    """Positions of the ``n`` highest scores, best first.

    Ties are broken by a random permutation drawn from ``rng`` when given (so that equal scores do
    not favour low ids), else by position. Returns ``min(n, len(scores))`` int64 positions.
    """
    scores = np.asarray(scores, dtype=np.float64)
    n = min(int(n), len(scores))
    if n <= 0:
        return np.empty(0, np.int64)
    order = rng.permutation(len(scores)) if rng is not None else np.arange(len(scores))
    s = scores[order]
    s = np.where(np.isnan(s), -np.inf, s)
    if n < len(s):
        # partial sort: candidates >= the n-th best score, then a stable full sort of those
        kth = np.partition(-s, n - 1)[n - 1]
        keep = np.flatnonzero(-s <= kth)
        best = keep[np.argsort(-s[keep], kind="stable")][:n]
    else:
        best = np.argsort(-s, kind="stable")
    return order[best].astype(np.int64)
