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

#: Category20 split into its strong and its light halves, each ordered so that neighbours differ
#: in hue; minority classes take the strong half from the start (orange, pink, cyan, ... — the
#: run colours red, blue, green and purple come last), majority classes the light half: twenty
#: distinct class colours before any repeats
CLASS_STRONG = ("#ff7f0e", "#e377c2", "#17becf", "#bcbd22", "#8c564b", "#7f7f7f", "#1f77b4",
                "#2ca02c", "#9467bd", "#d62728")
CLASS_LIGHT = ("#aec7e8", "#98df8a", "#c5b0d5", "#c7c7c7", "#9edae5", "#dbdb8d", "#c49c94",
               "#ffbb78", "#f7b6d2", "#ff9896")
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
    """Class name → colour, distinct for up to 20 classes: minority classes take the strong
    colours in order, majority classes the light ones; when one half runs out a class borrows
    from the far end of the other half (beyond 20 classes colours repeat)."""
    order = list(CLASS_STRONG) + list(CLASS_LIGHT)[::-1]  # strong ... light, read from both ends
    minority = set(int(c) for c in minority)
    out, i_min, i_maj = {}, 0, 0
    for c, name in enumerate(classes):
        if c in minority:
            out[name] = order[i_min % len(order)]
            i_min += 1
        else:
            out[name] = order[-1 - i_maj % len(order)]
            i_maj += 1
    return out


#: a pool with more classes than this opens coloured "minority vs rest" (per class otherwise)
MANY_CLASSES = 12
#: the colouring that shows the minority classes in strong colours and every other class grey
MINORITY_VS_REST = "minority vs rest"
#: the one neutral colour of every non-minority class under :data:`MINORITY_VS_REST`
REST_NAME, REST_COLOR = "(all other classes)", "#c4c4c4"
#: strong, distinct colours for minority classes (no grey: grey is the rest)
MINORITY_COLORS = ("#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#e377c2", "#17becf",
                   "#8c564b", "#bcbd22", "#393b79", "#637939", "#843c39")


def default_color_by(n_classes) -> str:
    """``"minority vs rest"`` for a pool of more than :data:`MANY_CLASSES` classes, else
    ``"class"``."""
    return MINORITY_VS_REST if int(n_classes) > MANY_CLASSES else "class"


def minority_colors(classes, minority) -> dict:
    """Class name → colour under :data:`MINORITY_VS_REST`: each minority class a strong colour
    of :data:`MINORITY_COLORS` (repeating beyond 12), every other class :data:`REST_COLOR`."""
    minority = [int(c) for c in minority]
    out = {name: REST_COLOR for name in classes}
    for i, c in enumerate(minority):
        out[classes[c]] = MINORITY_COLORS[i % len(MINORITY_COLORS)]
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
