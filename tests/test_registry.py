"""The registry lists exactly the names the library's factories accept (and the CLI offers)."""

from __future__ import annotations

import pytest

from explorer import filters, models, registry, strategies
from explorer.cli import build_parser
from explorer.exceptions import ParameterError


def test_registry_names_are_the_library_names():
    assert registry.names(registry.FILTERS) == tuple(filters.FILTERS) == (
        "anchoral", "full", "randsub", "seals")
    assert registry.names(registry.STRATEGIES) == tuple(strategies.STRATEGIES) == (
        "random", "entropy", "margin", "leastconf", "badge", "kmeans")
    assert registry.names(registry.MODELS) == models.MODELS == ("lr", "mlp", "finetune")
    assert registry.names(registry.ANCHOR_STRATEGIES) == filters.ANCHOR_STRATEGIES == (
        "kmeans++", "kmeans", "random", "entropy")
    assert registry.names(registry.SAMPLING) == filters.SAMPLING == ("topk", "softmax")
    assert all(c.color and c.color.startswith("#") for c in registry.FILTERS.values())


@pytest.mark.parametrize("name", list(registry.FILTERS))
def test_make_filter_accepts_every_registered_filter(name):
    f = filters.make_filter(name.upper(), "entropy")
    assert f.name == name and type(f) is filters.FILTERS[name]


@pytest.mark.parametrize("name", list(registry.STRATEGIES))
def test_make_strategy_accepts_every_registered_strategy(name):
    assert strategies.make_strategy(f" {name} ").name == name


@pytest.mark.parametrize("alias", ["fullpool", "pool", "anchor", "lc", "uncertainty", "ft"])
def test_undocumented_aliases_are_refused(alias):
    with pytest.raises(ParameterError, match=rf"={alias!r} is unknown; choose one of"):
        filters.make_filter(alias, "entropy") if alias in ("fullpool", "pool", "anchor") else \
            strategies.make_strategy(alias) if alias in ("lc", "uncertainty") else \
            models.make_model(alias, None)


def test_cli_model_choices_are_the_registry():
    sub = build_parser()._subparsers._group_actions[0].choices
    for command in ("simulate", "label"):
        model = next(a for a in sub[command]._actions if a.dest == "model")
        assert tuple(model.choices) == registry.names(registry.MODELS)


def test_labels_and_help_text():
    assert registry.label(registry.FILTERS, "full") == "Full pool"
    assert registry.label(registry.FILTERS, "other") == "other"
    assert registry.help_text(registry.SAMPLING) == "topk or softmax"


def test_experiment_kwargs_keeps_settings_and_sets_the_mode():
    from types import SimpleNamespace

    from explorer.settings import experiment_kwargs

    app = {"model": "mlp", "minority_only": True, "filters": ["full"], "layers": ("labelled",)}
    assert experiment_kwargs(app) == {"model": "mlp", "minority_only": True}
    gold = SimpleNamespace(fully_labelled=True)
    assert experiment_kwargs(app, gold)["mode"] == "simulate"
    assert experiment_kwargs(app, SimpleNamespace(fully_labelled=False))["mode"] == "annotate"
