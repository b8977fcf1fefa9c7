"""What the views show of a round (:class:`RoundRecord`), and the names and colours of runs and classes.

A leaf of :mod:`explorer.ui`: it imports nothing from the package, so the engine bridge and the
state can both use it without importing each other.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

#: filters the app can compare, in display order, with their labels and (shared) colours
FILTERS = {
    "anchoral": ("AnchorAL", "#d62728"),
    "full": ("Full pool", "#1f77b4"),
    "randsub": ("RandSub", "#2ca02c"),
    "seals": ("SEALS", "#9467bd"),
}
STRATEGIES = ("entropy", "margin", "leastconf", "badge", "kmeans", "random")
MODELS = {"lr": "LR head", "mlp": "MLP head", "finetune": "Fine-tuned encoder"}
ANCHOR_STRATEGIES = ("kmeans++", "kmeans", "random", "entropy")
SAMPLING = ("topk", "softmax")

#: colours of the classes on the map: minority classes strong, majority classes muted
MINORITY_COLORS = ("#ff7f0e", "#e377c2", "#17becf", "#bcbd22", "#8c564b", "#7f7f7f")
MAJORITY_COLORS = ("#6baed6", "#9ecae1", "#74c476", "#a1d99b", "#9e9ac8", "#bcbddc", "#fdae6b",
                   "#c6dbef", "#c7e9c0", "#dadaeb", "#fdd0a2", "#d9d9d9", "#bdbdbd", "#969696")
#: colours of forked runs (a fork keeps its parent's filter, so it needs a colour of its own)
FORK_COLORS = ("#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79",
               "#637939")


def run_key(filter_name: str, strategy: str) -> str:
    """The key of one compared run, e.g. ``"anchoral/entropy"``."""
    return f"{filter_name}/{strategy}"


def run_label(key: str) -> str:
    """A run's display name, e.g. ``"AnchorAL · entropy"``; a fork names its parent and round
    (``"AnchorAL · badge [n_anchors=5] ⑂ AnchorAL · entropy @2"``)."""
    own, _, parent = key.partition("@")
    filt, _, strategy = own.partition("/")
    strategy, _, params = strategy.partition("[")
    label = f"{FILTERS.get(filt, (filt,))[0]} · {strategy}"
    if params:
        label += f" [{params.rstrip(']')}]"
    if parent:
        base, _, rnd = parent.rpartition(":")
        label += f" ⑂ {run_label(base)} @{rnd}"
    return label


def run_color(key: str) -> str:
    """A run's colour, shared by the map and every comparison plot."""
    if "@" in key:
        return FORK_COLORS[zlib.crc32(key.encode()) % len(FORK_COLORS)]
    return FILTERS.get(key.partition("/")[0], ("", "#444444"))[1]


def run_filter(key: str) -> str:
    """The filter of run ``key`` (a fork keeps its parent's): ``"full"`` for ``"full/entropy"``."""
    return key.partition("/")[0]


def run_strategy(key: str) -> str:
    """The base strategy of run ``key`` itself (not its parent's): ``"badge"`` for
    ``"anchoral/badge[n_anchors=5]@anchoral/entropy:2"``."""
    return key.partition("@")[0].partition("/")[2].partition("[")[0]


def class_colors(classes, minority) -> dict:
    """Class name → colour; minority classes get the strong colours."""
    out, i_min, i_maj = {}, 0, 0
    for c, name in enumerate(classes):
        if c in minority:
            out[name] = MINORITY_COLORS[i_min % len(MINORITY_COLORS)]
            i_min += 1
        else:
            out[name] = MAJORITY_COLORS[i_maj % len(MAJORITY_COLORS)]
            i_maj += 1
    return out


def snippet(text, n=200) -> str:
    """The first ``n`` characters of ``text`` on one line (not escaped: escape where shown)."""
    s = " ".join(str(text).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def ids_of(x) -> np.ndarray:
    """A fresh int64 copy of ``x`` (empty for None)."""
    if x is None:
        return np.empty(0, np.int64)
    return np.asarray(x, dtype=np.int64).ravel().copy()


@dataclass(frozen=True, eq=False)
class RoundRecord:
    """What one run did in one round, copied out of the engine so views never touch it.

    Attributes
    ----------
    run : str
        The run key (``"anchoral/entropy"``).
    round : int
        1-based round number.
    labelled : int64 ndarray
        Global ids labelled when the round selected (its training set, before the queries).
    anchors, subpool, queried : int64 ndarray
        Global ids. ``subpool`` is empty for the full pool (the whole unlabelled pool).
    scores, anchor_of, similarity : ndarray aligned with ``queried``
        Base-strategy score, the anchor that retrieved each query (-1: none), its similarity (nan).
    metrics : dict
        The engine's row of ``rounds_frame()`` for this run and round (n_labelled, minority_share,
        subpool_minority_share, t_retrieval, t_scoring, t_selection, t_train, minority_f1, ...).
    labels : int64 ndarray or None
        The committed class of each queried id (-1: skipped); None when unknown.
    label_source : str
        ``"oracle"`` (gold labels revealed) or ``"human"`` (labelled by a person).
    proposed : bool
        True for a batch selected but not labelled yet (the labelling queue's round).
    """

    run: str
    round: int
    labelled: np.ndarray
    anchors: np.ndarray
    subpool: np.ndarray
    queried: np.ndarray
    scores: np.ndarray
    anchor_of: np.ndarray
    similarity: np.ndarray
    metrics: dict = field(default_factory=dict)
    labels: np.ndarray | None = None
    label_source: str = "oracle"
    proposed: bool = False
