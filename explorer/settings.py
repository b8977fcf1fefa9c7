"""The settings of an experiment: their names, defaults and the checks that need no data.

Light (no heavy import), so the CLI and the app can read defaults and check a user's settings
before a pool is prepared. ``minority_only`` is the one name of "take anchors from the minority
classes only" in the library, the CLI (``--minority-only``), sessions and the app.
"""

from __future__ import annotations

from . import registry
from ._validation import check_choice, check_float, check_int, check_name
from .exceptions import ParameterError

#: the paper's subpool size M
PAPER_SUBPOOL_SIZE = 10_000

#: :class:`~explorer.experiment.Experiment` keyword arguments and their defaults (the paper's)
DEFAULTS = dict(model="lr", query_size=25, init_size=100, init_per_minority=5, seed=0,
                test_size=0.2, subpool_size=None, n_anchors=10, n_neighbors=50,
                anchor_strategy="kmeans++", minority_only=False, sampling="topk",
                temperature=1.0, class_weight=None, model_params=None, mode="simulate")

#: Experiment keyword arguments a saved session stores (its runs are stored separately)
SETTINGS = ("model", "query_size", "init_size", "init_per_minority", "seed", "test_size",
            "subpool_size", "n_anchors", "n_neighbors", "anchor_strategy", "minority_only",
            "sampling", "temperature", "class_weight", "model_params", "mode")


def default_subpool_size(n_pool):
    """The paper's M = 10,000, capped for small pools at a third of the training pool (at least
    250): with M >= the pool AnchorAL would be full-pool AL, and a cap far below what the anchors
    retrieve (classes x n_anchors x n_neighbors, 1,000 for a binary task at the defaults) would
    keep only the densest (majority) neighbourhoods. Sample (3,422 train rows) -> 1,140;
    Brown (~46k) and larger pools -> 10,000."""
    return int(min(PAPER_SUBPOOL_SIZE, max(250, int(n_pool) // 3)))


def check_settings(runs, *, model="lr", query_size=25, init_size=100, init_per_minority=5,
                   seed=0, subpool_size=None, n_anchors=10, n_neighbors=50,
                   anchor_strategy="kmeans++", sampling="topk", temperature=1.0, n_rounds=None,
                   mode="simulate") -> dict:
    """Check the :class:`Experiment` settings that do not depend on the data; return them clean.

    Cheap (no data, no model): the CLI calls it before preparing a pool, so a typo fails at once;
    :class:`Experiment` calls it first. ``runs`` come back as canonical ``(filter, strategy)``
    names. Raises :class:`~explorer.exceptions.ParameterError` in the house message style.
    """
    if not runs:
        raise ParameterError("runs is empty; give at least one (filter, strategy) pair, "
                             "e.g. [('anchoral', 'entropy')]")
    mode = check_choice("mode", mode, registry.MODES)
    pairs = []
    for f, s in runs:
        pair = (check_name("filter", f, registry.FILTERS),
                check_name("strategy", s, registry.STRATEGIES))
        if pair in pairs:
            raise ParameterError(f"run ({f}, {s}) is listed twice; list each pair once")
        pairs.append(pair)
    out = dict(runs=pairs, mode=mode, model=check_name("model", model, registry.MODELS),
               query_size=check_int("query_size", query_size),
               init_size=check_int("init_size", init_size),
               init_per_minority=check_int("init_per_minority", init_per_minority, 0),
               seed=check_int("seed", seed, 0), n_neighbors=check_int("n_neighbors", n_neighbors),
               n_anchors=check_int("n_anchors", n_anchors),
               subpool_size=None if subpool_size is None else check_int("subpool_size",
                                                                       subpool_size),
               anchor_strategy=check_choice("anchor_strategy", anchor_strategy,
                                            registry.ANCHOR_STRATEGIES),
               sampling=check_choice("sampling", sampling, registry.SAMPLING),
               temperature=check_float("temperature", temperature, 0),
               n_rounds=None if n_rounds is None else check_int("rounds", n_rounds))
    return out


def experiment_kwargs(settings, dataset=None) -> dict:
    """The :class:`~explorer.experiment.Experiment` keyword arguments among ``settings`` (an app's
    or a CLI's; other keys are ignored), with ``mode`` set from ``dataset`` when given: annotate
    when some row lacks a gold label (:attr:`~explorer.data.Dataset.fully_labelled`)."""
    out = {k: settings[k] for k in SETTINGS if k in settings}
    if dataset is not None:
        out["mode"] = "simulate" if dataset.fully_labelled else "annotate"
    return out
