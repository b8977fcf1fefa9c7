"""The settings of a comparison as the page offers them, and their checks against the pool.

:class:`SettingsState` is the base of :class:`~explorer.ui.state.ExplorerState` (no Panel): the
widgets of ``controls.py`` bind to these parameters with ``from_param``. The menus' choices come
from :mod:`explorer.registry`.
"""

from __future__ import annotations

import dataclasses

import param

from ..exceptions import ParameterError
from ..registry import ANCHOR_STRATEGIES, FILTERS, MODELS, SAMPLING, names
from .records import STRATEGY_CHOICES

#: the experiment settings (a change after the first round marks the state stale)
SETTINGS = ("minority", "model", "strategy", "filters", "n_anchors", "anchor_strategy",
            "n_neighbors", "subpool_size", "sampling", "minority_only", "query_size",
            "init_size", "seed", "label_by_hand")


class SettingsState(param.Parameterized):
    """The experiment settings over one prepared pool (applied by Reset; the first Step builds
    the experiment from them)."""

    minority = param.ListSelector(default=[], objects=[], doc="Minority class name(s).")
    model = param.Selector(default="lr", objects=list(names(MODELS)), doc="Classifier.")
    strategy = param.Selector(default="entropy", objects=list(STRATEGY_CHOICES),
                              doc="Base strategy.")
    filters = param.ListSelector(default=["anchoral", "full"], objects=list(names(FILTERS)),
                                 doc="Pool filters to compare, one run each.")
    n_anchors = param.Integer(default=10, doc="AnchorAL anchors per class.")
    anchor_strategy = param.Selector(default="kmeans++", objects=list(names(ANCHOR_STRATEGIES)))
    n_neighbors = param.Integer(default=50, doc="k: neighbours retrieved per anchor (AnchorAL, SEALS).")
    subpool_size = param.Integer(default=None, allow_None=True,
                                 doc="M: subpool size (AnchorAL, RandSub); empty = the engine's default.")
    sampling = param.Selector(default="topk", objects=list(names(SAMPLING)),
                              doc="Keep the top-M retrieved instances or sample M by softmax.")
    minority_only = param.Boolean(default=False, doc="Take anchors from minority classes only.")
    query_size = param.Integer(default=25, doc="Instances queried per round and run.")
    init_size = param.Integer(default=100, doc="Initial labelled set size.")
    n_rounds = param.Integer(default=10, doc="Rounds run by 'Run N rounds'.")
    seed = param.Integer(default=0, doc="Seed of every random step.")
    label_by_hand = param.Boolean(default=False, doc="Label the queried points yourself even "
                                  "though the data has gold labels (agreement is shown).")

    def __init__(self, prepared, **params):
        ds = prepared.dataset
        self.param.minority.objects = list(ds.classes)
        params.setdefault("minority", [ds.classes[c] for c in ds.minority])
        super().__init__(**params)
        self.prepared = prepared

    @property
    def settings(self) -> dict:
        """The experiment settings as a plain dict."""
        return {name: (list(v) if isinstance(v := getattr(self, name), list) else v)
                for name in SETTINGS}

    def validate(self) -> None:
        """Check the settings against the pool; raise :class:`ParameterError` with the fix."""
        n = self.prepared.dataset.n
        for name in ("n_anchors", "n_neighbors", "subpool_size", "query_size", "init_size",
                     "n_rounds"):
            value = getattr(self, name)
            if value is None and name == "subpool_size":
                continue
            if value is None or value < 1:
                raise ParameterError(f"{name}={value} must be >= 1; enter a positive number")
        if not self.filters:
            raise ParameterError("filters=[] must name at least one filter to compare; "
                                 f"tick one of {', '.join(FILTERS)}")
        if not self.minority:
            raise ParameterError("minority=[] must name at least one minority class; "
                                 f"choose from {', '.join(self.prepared.dataset.classes)}")
        if len(self.minority) >= self.prepared.dataset.n_classes:
            raise ParameterError(f"minority={self.minority} names every class; leave at least "
                                 "one majority class")
        if self.n_neighbors >= n:
            raise ParameterError(f"n_neighbors={self.n_neighbors} must be smaller than the pool "
                                 f"({n:,} rows); choose k < {n}")
        if self.init_size + self.query_size >= n:
            raise ParameterError(f"init_size={self.init_size} + query_size={self.query_size} "
                                 f"must be smaller than the pool ({n:,} rows)")

    @property
    def prepared_for_settings(self):
        """The shared pool, with the chosen minority classes when they differ (a shallow copy)."""
        ds = self.prepared.dataset
        wanted = tuple(sorted(ds.classes.index(m) for m in self.minority))
        if wanted == tuple(sorted(ds.minority)):
            return self.prepared
        dataset = dataclasses.replace(ds, minority=wanted, minority_inferred=False)
        return dataclasses.replace(self.prepared, dataset=dataset)

    @property
    def annotate_data(self) -> bool:
        """True when the data lacks gold labels for some rows: every batch is labelled by hand."""
        return not self.prepared.dataset.fully_labelled

    @property
    def hand(self) -> bool:
        """True when a person labels each batch (annotate data, or 'label by hand' ticked)."""
        return self.annotate_data or self.label_by_hand
