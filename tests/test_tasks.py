"""Paper-style tasks: binary / multi-minority derivation, the test split, the spelling, the slicing."""

import math

import numpy as np
import pandas as pd
import pytest

from explorer.data import Dataset
from explorer.exceptions import DataError, ParameterError
from explorer.experiment import Experiment
from explorer.prepare import Prepared
from explorer.prepare import derive_prepared
from explorer.tasks import (OTHERS, TASKS, TaskSpec, binary_task, derive_task,
                            multi_minority_task, parse_task)
from tests.conftest import make_prepared

# a, b, c, d: 6,000 / 2,000 / 1,000 / 500 rows
SIZES = {"a": 6000, "b": 2000, "c": 1000, "d": 500}


def pool(split=None):
    classes = tuple(SIZES)
    y = np.concatenate([np.full(n, i) for i, n in enumerate(SIZES.values())]).astype(np.int64)
    texts = np.array([f"row {i}" for i in range(len(y))], object)
    return Dataset(texts=texts, y=y, classes=classes, minority=(3,), minority_inferred=False,
                   name="toy", content_hash="h", split=split)


def names(task, part):
    ds = task.dataset
    rows = np.asarray(ds.split) == part
    return pd.Series([ds.classes[v] for v in ds.y[rows]]).value_counts().to_dict()


def test_binary_cut_as_the_reference_code():
    task = binary_task(pool(), "c", share=0.01, test_negatives=1000, random_state=0)
    ds = task.dataset
    assert ds.classes == ("c", OTHERS) and ds.minority == (0,) and ds.name == "toy-binary-c-1pct"
    # test split: 20 % of c (200 rows) + 1,000 negatives; the rest of the negatives train
    assert names(task, "test") == {"c": 200, OTHERS: 1000}
    n_neg = 8500 - 1000
    need = math.ceil(0.01 * n_neg / 0.99)  # the reference's ceil(p * n_neg / (1 - p)) = 76
    assert names(task, "train") == {OTHERS: n_neg, "c": need}
    assert abs(need / (n_neg + need) - 0.01) < 1e-3
    # rows map back to the base pool: texts and classes agree
    base = pool()
    np.testing.assert_array_equal(ds.texts, base.texts[task.rows])
    assert set(base.y[task.rows][ds.y == 0]) == {2}
    assert np.all(np.diff(task.rows) > 0)


def test_binary_group_of_classes_and_no_cut():
    task = binary_task(pool(), ["c", "d"], share=None, test_negatives=100)
    assert task.dataset.classes == ("c+d", OTHERS)
    assert names(task, "train")["c+d"] == 1200  # 80 % of 1,500: no cut
    assert names(task, "test") == {"c+d": 300, OTHERS: 100}


def test_same_seed_same_task_other_seed_other_rows():
    a = binary_task(pool(), "c", share=0.01, test_negatives=500, random_state=3)
    b = binary_task(pool(), "c", share=0.01, test_negatives=500, random_state=3)
    c = binary_task(pool(), "c", share=0.01, test_negatives=500, random_state=4)
    np.testing.assert_array_equal(a.rows, b.rows)
    assert a.dataset.content_hash == b.dataset.content_hash != c.dataset.content_hash
    assert not np.array_equal(a.rows, c.rows)


def test_multi_minority_shares_and_others():
    task = multi_minority_task(pool(), {"b": 0.05, "c": 0.02, "d": None}, test_negatives=1000)
    ds = task.dataset
    assert ds.classes == ("b", "c", "d", OTHERS)
    assert [ds.classes[m] for m in ds.minority] == ["b", "c", "d"]
    train = names(task, "train")
    assert train["d"] == 400 and train[OTHERS] == 5000
    total = sum(train.values())
    assert abs(train["b"] / total - 0.05) < 1e-3 and abs(train["c"] / total - 0.02) < 1e-3
    assert names(task, "test") == {"b": 400, "c": 200, "d": 100, OTHERS: 1000}


def test_pool_with_a_split_column_keeps_its_test_positives():
    split = np.where(np.arange(9500) % 5 == 0, "test", "train").astype(object)
    task = binary_task(pool(split), "c", share=0.01, test_negatives=300)
    base_test = np.asarray(split)[task.rows] == "test"
    np.testing.assert_array_equal(base_test, np.asarray(task.dataset.split) == "test")
    assert names(task, "test") == {"c": 200, OTHERS: 300}  # every test positive of the pool


def test_experiment_uses_the_task_split_and_minority():
    rng = np.random.RandomState(0)
    base = pool()
    X = rng.normal(size=(base.n, 8)).astype(np.float32)
    p = make_prepared(X, base.y, classes=base.classes, minority=(3,), texts=base.texts)
    p = Prepared(dataset=base, embeddings=p.embeddings, coords=p.coords, index=p.index,
                 cache_dir=None)
    t = derive_prepared(p, "binary:c@2%", name="toy-task")
    assert t.dataset.name == "toy-task" and t.sources["task"] == "binary:c@2%"
    np.testing.assert_array_equal(t.embeddings, p.embeddings[t.task.rows])  # sliced, not re-made
    np.testing.assert_array_equal(t.coords, p.coords[t.task.rows])
    ids, _ = t.index.search(t.embeddings[:1], 1)
    assert ids[0, 0] == 0  # the index is over the task's rows
    exp = Experiment(t, runs=[("anchoral", "entropy")], seed=1)
    assert set(t.dataset.split[exp.test_ids]) == {"test"}
    assert len(exp.test_ids) == 200 + 5000
    assert exp.minority == (0,)
    # the initial set has the paper's 5 positives
    assert int((t.dataset.y[exp.initial_ids] == 0).sum()) == 5


@pytest.mark.parametrize("text, spec", [
    ("binary:noun.food@1%", TaskSpec("binary", ("noun.food",), (0.01,))),
    ("binary:noun.food@0.1%", TaskSpec("binary", ("noun.food",), (0.001,))),
    ("Binary: humor , science_fiction @ 0.02", TaskSpec("binary", ("humor", "science_fiction"),
                                                        (0.02,))),
    ("binary:noun.food", TaskSpec("binary", ("noun.food",), (None,))),
    ("multi:x@0.1%,y@.5%,z", TaskSpec("multi", ("x", "y", "z"), (0.001, 0.005, None))),
])
def test_parse_task(text, spec):
    got = parse_task(text)
    assert got.kind == spec.kind and got.classes == spec.classes
    assert got.shares == pytest.approx(spec.shares) if None not in spec.shares else \
        got.shares == spec.shares
    assert parse_task(got.describe()) == got


@pytest.mark.parametrize("text, match", [
    ("noun.food@1%", r"^task 'noun.food@1%' must read binary:CLASS\[,CLASS...\]\[@SHARE\] or "
                     r"multi:CLASS\[@SHARE\]"),
    ("ternary:a@1%", r"^task 'ternary:a@1%' must read binary:"),
    ("binary:", r"^task 'binary:' must read binary:"),
    ("binary:a@one", r"^task 'binary:a@one': share 'one' is not a number; write it as a "
                     r"percentage \(1%, 0.1%\) or a fraction \(0.01\)$"),
    ("binary:a@150%", r"^task 'binary:a@150%': share '150%' must be in \(0, 100 %\)"),
    ("binary:a@0%", r"^task 'binary:a@0%': share '0%' must be in \(0, 100 %\)"),
    ("binary:a,,b@1%", r"^task 'binary:a,,b@1%' has an empty class name$"),
    ("multi:a@1%,a@2%", r"^task 'multi:a@1%,a@2%' names a class twice$"),
    ("multi:a@60%,b@50%", r"^task 'multi:a@60%,b@50%': the minority shares add up to 110 %; "
                          r"they must stay under 100 %$"),
])
def test_parse_task_errors(text, match):
    with pytest.raises(ParameterError, match=match):
        parse_task(text)


def test_spec_option_errors():
    with pytest.raises(ParameterError, match=r"^test_negatives=0 must be an integer >= 1$"):
        parse_task("binary:a@1%", test_negatives=0)
    with pytest.raises(ParameterError, match=r"^test_fraction=1.5 must be a fraction in \(0, 1\)$"):
        parse_task("binary:a@1%", test_fraction=1.5)
    with pytest.raises(ParameterError, match=r"^random_state=None must be an integer"):
        parse_task("binary:a@1%", random_state=None)
    with pytest.raises(ParameterError, match=r"^share=2 must be a fraction in \(0, 1\)"):
        binary_task(pool(), "c", share=2)
    with pytest.raises(ParameterError, match=r"^minority=\[\] must be a non-empty dict"):
        multi_minority_task(pool(), [])
    with pytest.raises(ParameterError, match=r"the shares add up to >= 1; they must stay under 1"):
        multi_minority_task(pool(), {"b": 0.6, "c": 0.5})


def test_derive_errors():
    with pytest.raises(DataError, match=r"^task binary:zz@1% of toy: class 'zz' is not in the "
                                        r"pool; its classes are a, b, c, d$"):
        derive_task(pool(), "binary:zz@1%")
    with pytest.raises(DataError, match=r"^task binary:d@50% of toy: 50 % of the training pool "
                                        r"needs [\d,]+ rows of d but it has 400 after the test "
                                        r"split; lower the share or pick a larger class$"):
        derive_task(pool(), "binary:d@50%")
    with pytest.raises(DataError, match=r"test_negatives=20,000 but only 9,000 negative rows can "
                                        r"be held out; lower test_negatives$"):
        derive_task(pool(), parse_task("binary:d@1%", test_negatives=20000))
    others = Dataset(texts=np.array(["x", "y", "z"], object), y=np.array([0, 1, 1]),
                     classes=("a", OTHERS), minority=(0,), minority_inferred=False, name="o",
                     content_hash="o")
    with pytest.raises(DataError, match=r"already has a class named 'others'"):
        derive_task(others, "binary:a@10%")
    unl = Dataset(texts=np.array(["x", "y", "z"], object), y=np.array([0, 1, -1]),
                  classes=("a", "b"), minority=(0,), minority_inferred=False, name="u",
                  content_hash="u")
    with pytest.raises(DataError, match=r"the pool has unlabelled rows; a task needs every row"):
        derive_task(unl, "binary:a@10%")


def test_named_tasks_parse_and_name_known_classes():
    wordnet = {"noun.food", "noun.feeling", "noun.time", "noun.body"}
    for name, (base, text) in TASKS.items():
        spec = parse_task(text)
        assert base in ("wordnet", "brown") and name.startswith(base)
        if base == "wordnet":
            assert set(spec.classes) <= wordnet


def test_prepare_refuses_a_task_of_a_task():
    from explorer.prepare import prepare

    with pytest.raises(ParameterError, match=r"^'wordnet-binary-1' is already a task; give its "
                                             r"base pool with task='binary:a@1%'"):
        prepare("wordnet-binary-1", task="binary:a@1%")


def test_cli_task_errors(capsys):
    from explorer.cli import main

    assert main(["prepare", "sample", "--task", "binary:spam@x"]) == 2
    assert "share 'x' is not a number" in capsys.readouterr().err
    assert main(["prepare", "wordnet-binary-1", "--task", "binary:a@1%"]) == 2
    assert ("--task='binary:a@1%': 'wordnet-binary-1' is already a task"
            in capsys.readouterr().err)


def test_cli_task_on_a_file(tmp_path, capsys):
    """``anchoral prepare FILE --task ...`` embeds the base pool once; the task slices it."""
    from explorer.cli import main

    rng = np.random.RandomState(0)
    n = 6000
    labels = np.r_[np.full(5400, "big"), np.full(600, "small")]
    pd.DataFrame({"text": [f"text {i}" for i in range(n)], "label": labels}).to_csv(
        tmp_path / "p.csv", index=False)
    np.save(tmp_path / "v.npy", rng.normal(size=(n, 16)).astype(np.float32))
    assert main(["prepare", str(tmp_path / "p.csv"), "--embeddings", str(tmp_path / "v.npy"),
                 "--cache-dir", str(tmp_path / "c"), "--no-projection",
                 "--task", "binary:small@5%", "--index", "exact"]) == 0
    out = capsys.readouterr().out
    assert "task p-binary-small-5pct: binary:small@5% of p (seed 0)" in out
    assert "embeddings: " in out and "rows of p's" in out


def test_prepare_with_a_task_embeds_the_base_pool_once(tmp_path, monkeypatch):
    """The task's vectors are rows of the base pool's: one ``embed`` call (the base's), and a
    second prepare of another task of the same pool reads the same cache."""
    import explorer.prepare as prep

    rng = np.random.RandomState(1)
    labels = np.r_[np.full(5600, "big"), np.full(400, "small")]
    pd.DataFrame({"text": [f"t{i}" for i in range(6000)], "label": labels}).to_csv(
        tmp_path / "p.csv", index=False)
    X = rng.normal(size=(6000, 8)).astype(np.float32)
    np.save(tmp_path / "v.npy", X)
    calls = []
    real = prep.embed
    monkeypatch.setattr(prep, "embed", lambda texts, *a, **k: calls.append(len(texts)) or
                        real(texts, *a, **k))
    p = prep.prepare(tmp_path / "p.csv", embeddings=tmp_path / "v.npy", cache_dir=tmp_path / "c",
                     projection=False, progress=False, task="binary:small@2%", index="exact")
    assert calls == [6000]  # the base pool only
    rows = p.task.rows
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(p.embeddings, Xn[rows], rtol=1e-5, atol=1e-6)
    assert p.dataset.classes == ("others", "small") and p.sources["task"] == "binary:small@2%"


def test_a_spec_takes_options_checked():
    spec = parse_task("binary:a@1%")
    assert parse_task(spec, test_negatives=7).test_negatives == 7
    with pytest.raises(ParameterError, match=r"^test_negatives=-1 must be an integer >= 1$"):
        parse_task(spec, test_negatives=-1)


def test_prepare_options_hold_the_task_spelling():
    from explorer.options import PrepareOptions

    opts = PrepareOptions(task="Binary: noun.food @ 1%")
    assert opts.task == "binary:noun.food@1%"
    assert PrepareOptions(task=parse_task("multi:a@0.5%,b")).task == "multi:a@0.5%,b"
    back = PrepareOptions.from_spec({**opts.to_spec(), "source": "wordnet"})
    assert back == opts  # a session reopens the same task
    assert "task" not in PrepareOptions().to_spec()
    with pytest.raises(ParameterError, match=r"^task 'binary:a@x': share 'x' is not a number"):
        PrepareOptions(task="binary:a@x")
    with pytest.raises(ParameterError, match=r"a prepare option holds the spelling only \(default "
                                             r"test split and seed\); use explorer.prepare."
                                             r"derive_prepared for other ones$"):
        PrepareOptions(task=parse_task("binary:a@1%", random_state=3))
    from explorer.prepare import prepare_task

    with pytest.raises(ParameterError, match=r"^source='sample' is not a named task"):
        prepare_task("sample")
