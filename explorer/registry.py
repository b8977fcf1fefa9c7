"""The names users choose from (filters, strategies, models, anchor strategies, sampling), with labels and colours.

No heavy import: the library's factories (:func:`~explorer.filters.make_filter`,
:func:`~explorer.strategies.make_strategy`, :func:`~explorer.models.make_model`), the CLI's
``choices`` and help texts, and the app's menus all read these tables, and
``tests/test_registry.py`` checks that the factories accept exactly these names. Adding a filter
or a strategy means adding its class and one :class:`Choice` line here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Choice:
    """One entry: the ``name`` typed in code and on the command line, its display ``label``,
    an optional ``color`` (filters: shared by the map and every plot) and a one-line ``help``."""

    name: str
    label: str
    color: str | None = None
    help: str = ""


def _table(*choices) -> dict:
    return {c.name: c for c in choices}


#: pool filters, in display order
FILTERS = _table(
    Choice("anchoral", "AnchorAL", "#d62728", "anchors per class -> k-NN retrieval -> top-M subpool"),
    Choice("full", "Full pool", "#1f77b4", "the whole unlabelled pool (the usual baseline)"),
    Choice("randsub", "RandSub", "#2ca02c", "a fresh random subpool of M rows every round"),
    Choice("seals", "SEALS", "#9467bd", "union of the k-NN of every labelled row"),
)

#: base query strategies (the order of the library's error messages)
STRATEGIES = _table(
    Choice("random", "Random", help="uniform at random (no model call)"),
    Choice("entropy", "Entropy", help="highest predictive entropy"),
    Choice("margin", "Margin", help="smallest margin between the two most likely classes"),
    Choice("leastconf", "Least confidence", help="lowest top-class probability"),
    Choice("badge", "BADGE", help="k-means++ on gradient embeddings (Ash et al., 2020)"),
    Choice("kmeans", "k-means", help="the row nearest each k-means centroid"),
)

#: classifiers
MODELS = _table(
    Choice("lr", "LR head", help="logistic regression on the frozen embeddings (default)"),
    Choice("mlp", "MLP head", help="a small MLP on the frozen embeddings"),
    Choice("finetune", "Fine-tuned encoder", help="MiniLM fine-tuned with a linear head"),
)

#: how AnchorAL picks each class's anchors among its labelled rows
ANCHOR_STRATEGIES = _table(
    Choice("kmeans++", "k-means++", help="k-means++ seeding (a new seeded draw every round)"),
    Choice("kmeans", "k-means", help="the row nearest each k-means centroid"),
    Choice("random", "Random", help="uniform at random"),
    Choice("entropy", "Entropy", help="the labelled rows the model is least sure about"),
)

#: how AnchorAL keeps M of the retrieved rows
SAMPLING = _table(
    Choice("topk", "Top-M", help="the M rows most similar to the anchors"),
    Choice("softmax", "Softmax", help="M rows sampled by softmax(score / temperature)"),
)

#: where labels come from
MODES = _table(
    Choice("simulate", "Simulate", help="the data's gold labels answer (the oracle)"),
    Choice("annotate", "Annotate", help="a person labels every batch (data without gold labels)"),
)


def names(table) -> tuple:
    """The names of a table, in order (``names(FILTERS) == ("anchoral", "full", ...)``)."""
    return tuple(table)


def label(table, name) -> str:
    """The display label of ``name`` (``name`` itself when it is not in ``table``)."""
    entry = table.get(name)
    return entry.label if entry is not None else str(name)


def help_text(table) -> str:
    """``"a, b or c"`` for an argparse help string."""
    n = names(table)
    return ", ".join(n[:-1]) + f" or {n[-1]}" if len(n) > 1 else "".join(n)
