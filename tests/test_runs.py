"""The small contract types (RunKey, RoundResult), the validators' messages and PoolFilter's repr."""

from __future__ import annotations

import math

import pytest

from explorer._validation import check_choice, check_float, check_int, check_name
from explorer.exceptions import ParameterError
from explorer.filters import AnchorAL, make_filter
from explorer.runs import ROUND_COLUMNS, ROUND_LIST_COLUMNS, RoundResult, RunKey
from explorer.strategies import Entropy


@pytest.mark.parametrize("text", [
    "anchoral/entropy",
    "anchoral/badge[n_anchors=5]@anchoral/entropy:2",
    "anchoral/badge[n_anchors=5]@anchoral/entropy:2#3",
    "full/margin@anchoral/badge[n_anchors=5,sampling=softmax]@anchoral/entropy:2#2:3",
])
def test_run_key_round_trips(text):
    assert str(RunKey.parse(text)) == text


def test_run_key_parts():
    key = RunKey.parse("full/margin@anchoral/badge[n_anchors=5]@anchoral/entropy:2#2:3")
    assert (key.filter, key.strategy, key.at_round, key.copy) == ("full", "margin", 3, 1)
    assert key.parent.params == (("n_anchors", "5"),) and key.parent.copy == 2
    assert key.parent.at_round == 2 and key.root() == RunKey("anchoral", "entropy")
    assert key.is_fork and not key.root().is_fork and key.parent.base == "anchoral/badge"
    made = RunKey.of("anchoral", "badge", {"sampling": "softmax", "n_anchors": 5},
                     parent="anchoral/entropy", at_round=2)
    assert str(made) == "anchoral/badge[n_anchors=5,sampling=softmax]@anchoral/entropy:2"
    assert str(made.with_copy(2)) == str(made) + "#2"


@pytest.mark.parametrize("bad", ["anchoral", "anchoral/entropy@x", "a/b[k=1", "/entropy"])
def test_malformed_run_keys_are_refused(bad):
    with pytest.raises(ParameterError, match=rf"run key '{bad}' is malformed".replace("[", r"\[")):
        RunKey.parse(bad)


def test_round_result_row_is_the_old_round_dict():
    rec = RoundResult(run="full/entropy", filter="full", strategy="entropy", model="lr", seed=1,
                      round=2, n_labelled=30, n_minority=6, minority_share=0.2,
                      class_f1=(("f1_ham", 0.9), ("f1_spam", 0.5)), queried_ids=(4, 7),
                      queried_labels=(1, -1))
    row = rec.to_row()
    assert list(row) == (["run"] + ROUND_COLUMNS + ["f1_ham", "f1_spam"] + ROUND_LIST_COLUMNS)
    assert row["queried_ids"] == [4, 7] and row["queried_labels"] == [1, -1]
    assert row["anchor_ids"] == [] and math.isnan(row["t_selection"]) and row["f1_spam"] == 0.5
    assert "queried_ids" not in rec.metrics() and rec.metrics()["n_labelled"] == 30
    fork = rec.relabel("full/margin@full/entropy:2", strategy="margin")
    assert (fork.run, fork.filter, fork.strategy, fork.queried_ids) == (
        "full/margin@full/entropy:2", "full", "margin", (4, 7))


def test_validators_speak_the_house_style():
    assert check_int("n", 3) == 3
    with pytest.raises(ParameterError, match=r"^n_anchors=0 must be an integer >= 1$") as err:
        check_int("n_anchors", 0)
    assert (err.value.param, err.value.value) == ("n_anchors", 0)
    with pytest.raises(ParameterError, match=r"^seed=True must be an integer >= 0; use 0, 1, 2$"):
        check_int("seed", True, 0, fix="use 0, 1, 2")
    with pytest.raises(ParameterError, match=r"^temperature=nan must be a number > 0$"):
        check_float("temperature", float("nan"))
    assert check_float("share", 0, inclusive=True) == 0.0
    with pytest.raises(ParameterError, match=r"^sampling='x' is unknown; choose one of topk, soft"):
        check_choice("sampling", "x", ("topk", "softmax"))
    assert check_name("filter", " FULL ", ("anchoral", "full")) == "full"


def test_pool_filter_repr_prints_every_parameter():
    assert repr(make_filter("randsub", "entropy", subpool_size=7)) == \
        "RandomSubpool(base=Entropy(), subpool_size=7)"
    assert repr(AnchorAL(Entropy(), n_anchors=3)) == (
        "AnchorAL(base=Entropy(), n_anchors=3, n_neighbors=50, subpool_size=10000, "
        "anchor_strategy='kmeans++', minority_only=False, sampling='topk', temperature=1.0)")
