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
        given = "filters" in params
        super().__init__(**params)
        self.prepared = prepared
        #: why Full pool is not compared by default on this pool ("" when it is)
        self.full_pool_note = ""
        full = self.full_pool_round()
        if not given and "full" in self.filters and full is not None and not full.live:
            self.filters = [f for f in self.filters if f != "full"]
            self.full_pool_note = (f"Full pool is not compared live on this pool: "
                                   f"{full.describe()}.")

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
        full = self.full_pool_round()
        if "full" in self.filters and full is not None and not full.live:
            raise ParameterError(f"filters includes 'full', but {full.describe()}; untick Full "
                                 "pool to compare AnchorAL with the other filters live (its "
                                 "round reads only the subpool its anchors retrieve)")

    def full_pool_round(self):
        """The projected cost of a full-pool round of :attr:`strategy` on this pool
        (:func:`explorer.cost.full_pool_round`); None when the strategy has no measured cost."""
        from ..cost import FULL_POOL_SECONDS_PER_ROW, full_pool_round

        if self.strategy not in FULL_POOL_SECONDS_PER_ROW:
            return None
        X = self.prepared.embeddings
        ds = self.prepared.dataset
        return full_pool_round(max(ds.n - int(self.init_size or 0), 0), self.strategy,
                               dim=X.shape[1], itemsize=X.dtype.itemsize,
                               n_classes=ds.n_classes)

    def apply_minority_rule(self, rule) -> list:
        """Set :attr:`minority` to the classes ``rule`` (one of
        :data:`explorer.data.MINORITY_RULES`) infers from the pool's class counts; takes effect
        on Reset, like every setting."""
        from ..data import infer_minority

        ds = self.prepared.dataset
        self.minority = [ds.classes[c] for c in infer_minority(ds.class_counts(), rule)]
        return self.minority

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
