"""Query strategies: pure score functions, selectors, and QueryStrategy classes.

``query(model, candidates, n, rng) -> (ids, scores)`` scores only the candidate global ids.
"""

from .base import (BADGE, STRATEGIES, Entropy, KMeansDiversity, LeastConfidence, Margin,
                   QueryStrategy, RandomSampling, make_strategy)
from .scores import entropy, least_confidence, margin, top_n

__all__ = [
    "BADGE", "STRATEGIES", "Entropy", "KMeansDiversity", "LeastConfidence", "Margin",
    "QueryStrategy", "RandomSampling", "make_strategy", "entropy", "least_confidence", "margin",
    "top_n",
]
