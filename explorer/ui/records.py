"""What the views show of a round (:class:`RoundRecord`), and the names and colours of runs and classes.

A leaf of :mod:`explorer.ui`: it imports nothing from the package (only the light library
modules :mod:`explorer.registry` and :mod:`explorer.runs`), so the engine bridge and the state can
both use it without importing each other.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from ..registry import FILTERS, STRATEGIES, names
from ..runs import RoundResult, RunKey

#: the base strategies in the app's menus: model-based ones first, the random baseline last
STRATEGY_CHOICES = tuple(sorted(names(STRATEGIES), key=lambda name: name == "random"))

#: colours of the classes on the map: minority classes strong, majority classes muted
MINORITY_COLORS = ("#ff7f0e", "#e377c2", "#17becf", "#bcbd22", "#8c564b", "#7f7f7f")
MAJORITY_COLORS = ("#6baed6", "#9ecae1", "#74c476", "#a1d99b", "#9e9ac8", "#bcbddc", "#fdae6b",
                   "#c6dbef", "#c7e9c0", "#dadaeb", "#fdd0a2", "#d9d9d9", "#bdbdbd", "#969696")
#: colours of forked runs (a fork keeps its parent's filter, so it needs a colour of its own)
FORK_COLORS = ("#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79",
               "#637939")


def run_key(filter_name: str, strategy: str) -> str:
    """The key of one compared run, e.g. ``"anchoral/entropy"``."""
    return str(RunKey.of(filter_name, strategy))


def run_label(key) -> str:
    """A run's display name, e.g. ``"AnchorAL · entropy"``; a fork names its parent and round
    (``"AnchorAL · badge [n_anchors=5] ⑂ AnchorAL · entropy @2"``)."""
    k = key if isinstance(key, RunKey) else RunKey.parse(key)
    entry = FILTERS.get(k.filter)
    label = f"{entry.label if entry is not None else k.filter} · {k.strategy}"
    if k.params:
        label += " [" + ",".join(f"{name}={value}" for name, value in k.params) + "]"
    if k.parent is not None:
        label += f" ⑂ {run_label(k.parent)} @{k.at_round}" + (f" #{k.copy}" if k.copy > 1 else "")
    return label


#: the colour of no run (nothing selected yet) and of an unknown filter
NO_RUN_COLOR = "#444444"


def run_color(key) -> str:
    """A run's colour, shared by the map and every comparison plot; a fork gets its own."""
    if not key:
        return NO_RUN_COLOR
    k = key if isinstance(key, RunKey) else RunKey.parse(key)
    if k.is_fork:
        return FORK_COLORS[zlib.crc32(str(k).encode()) % len(FORK_COLORS)]
    entry = FILTERS.get(k.filter)
    return entry.color if entry is not None else NO_RUN_COLOR


def filter_color(name: str) -> str:
    """The colour of the filter ``name`` (``"full"``: the pool-prior line of the plots)."""
    return FILTERS[name].color


def is_full_pool(key) -> bool:
    """True for a run of the full-pool filter (its "subpool" is the whole pool)."""
    return RunKey.parse(key).filter == "full"


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
    result : RoundResult or None
        The library's result of the round (sizes, minority shares, timings, test F1); None for
        a batch proposed but not labelled yet.
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
    result: RoundResult | None = None
    labels: np.ndarray | None = None
    label_source: str = "oracle"
    proposed: bool = False


@dataclass(frozen=True, eq=False)
class Preview:
    """What the next round of ``run`` would select with other settings (nothing changed).

    ``subpool``, ``anchors``, ``queried`` are int64 id arrays; ``mix`` counts the subpool's rows
    per class name, ``by`` ``"gold"`` labels (simulation) or ``"predicted"`` ones (annotate
    mode); ``seconds`` is how long the selection took.
    """

    run: str
    round: int
    subpool: np.ndarray
    anchors: np.ndarray
    queried: np.ndarray
    mix: dict
    by: str
    seconds: float
