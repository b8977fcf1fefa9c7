"""Loading and validation of datasets: every error names the problem and the fix."""

import json

import numpy as np
import pandas as pd
import pytest

from explorer.cli import main
from explorer.data import describe_minority, from_arrays, infer_minority, load_dataset
from explorer.exceptions import DataError, ParameterError


def put(path, data):
    (path.write_bytes if isinstance(data, bytes) else path.write_text)(data)
    return path


def write_csv(path, rows, columns=("text", "label")):
    pd.DataFrame(rows, columns=list(columns)).to_csv(path, index=False)
    return path


ROWS = [("a cat", "pets")] * 3 + [("the market", "finance")] * 30


@pytest.fixture
def good_csv(tmp_path):
    return write_csv(tmp_path / "good.csv", ROWS)


def test_csv_parquet_jsonl_load_the_same(tmp_path, good_csv):
    df = pd.read_csv(good_csv)
    df.to_parquet(tmp_path / "good.parquet")
    df.to_json(tmp_path / "good.jsonl", orient="records", lines=True)
    loaded = [load_dataset(p) for p in (good_csv, tmp_path / "good.parquet", tmp_path / "good.jsonl")]
    for ds in loaded:
        assert ds.classes == ("finance", "pets")
        assert ds.n == 33
        assert ds.y.dtype == np.int64
        assert list(ds.class_counts()) == [30, 3]
    assert len({ds.content_hash for ds in loaded}) == 1


def test_minority_inferred_by_the_rarest_rule(good_csv):
    ds = load_dataset(good_csv)
    assert ds.minority == (1,) and ds.minority_inferred and ds.minority_rule == "rarest"
    text = ds.summary()
    assert "minority: pets (9.1 % of the labelled rows; inferred, rule rarest" in text
    assert "1 of 2 classes" in text


# Brown's 15 genres (sentences per genre, classes in alphabetical order) and WordNet 3.1's 45
# lexicographer files (synsets per file, smallest first): the counts the default rule was chosen on
BROWN = {"adventure": 4637, "belles_lettres": 7209, "editorial": 2997, "fiction": 4249,
         "government": 3032, "hobbies": 4193, "humor": 1053, "learned": 7734, "lore": 4881,
         "mystery": 3886, "news": 4623, "religion": 1716, "reviews": 1751, "romance": 4431,
         "science_fiction": 948}
WORDNET = [42, 51, 60, 81, 242, 343, 344, 430, 437, 459, 461, 546, 642, 698, 698, 756, 770, 848,
           1030, 1062, 1076, 1110, 1276, 1411, 1546, 1550, 2018, 2198, 2388, 2575, 2624, 2973,
           2986, 3037, 3222, 3547, 3625, 3665, 5627, 6657, 7510, 8032, 11073, 11605, 14460]


def test_rarest_rule_on_brown_keeps_a_handful_of_genres():
    names = list(BROWN)
    picked = [names[c] for c in infer_minority(list(BROWN.values()))]
    # 948 + 1053 + 1716 + 1751 = 5,468 = 9.5 % of 57,340; adding editorial (2,997) -> 14.8 %
    assert picked == ["humor", "religion", "reviews", "science_fiction"]
    assert len(infer_minority(list(BROWN.values()), "below-10")) == 13  # the old default
    half = [names[c] for c in infer_minority(list(BROWN.values()), "half-uniform")]
    assert half == picked  # under 1/30 = 3.33 %: the same four
    assert describe_minority(list(BROWN.values())).endswith(": 4 of 15 classes")


def test_rarest_rule_caps_a_long_tail_at_ten_classes():
    # WordNet: the 21 smallest files hold 9.4 % (half-uniform: 23 files); the cap keeps the 10
    # smallest (2.5 %), so 5 initial rows per minority class still fit in 100
    assert infer_minority(WORDNET) == tuple(range(10))
    assert len(infer_minority(WORDNET, "half-uniform")) == 23


def test_minority_rules_fall_back_to_the_smallest_class():
    assert infer_minority([50, 40]) == (1,)                       # nothing under 10 %
    assert describe_minority([50, 40]).endswith("no class qualifies, so the smallest class")
    assert infer_minority([5, 5, 5, 5], "below-10") == (0,)      # nothing under 10 %
    assert infer_minority([97, 3]) == infer_minority([97, 3], "half-uniform") == (1,)
    assert infer_minority([3, 3, 94]) == (0, 1)                  # 6 % together
    with pytest.raises(ParameterError, match="minority_rule='tiny' is unknown; choose one of "
                       "rarest, half-uniform, below-10"):
        infer_minority([3, 97], "tiny")


def test_minority_given(good_csv):
    ds = load_dataset(good_csv, minority=["finance"])
    assert ds.minority == (0,) and not ds.minority_inferred


def test_unlabelled_rows_get_minus_one(tmp_path):
    p = write_csv(tmp_path / "part.csv", [("a", "x"), ("b", ""), ("c", "y"), ("d", None)])
    ds = load_dataset(p)
    assert list(ds.y) == [0, -1, 1, -1]


def test_split_column(tmp_path):
    p = tmp_path / "s.csv"
    pd.DataFrame({"text": ["a", "b", "c"], "label": ["x", "y", "x"],
                  "split": ["train", "test", "Train"]}).to_csv(p, index=False)
    assert list(load_dataset(p).split) == ["train", "test", "train"]
    pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"], "split": ["train", "dev"]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="split column 'split' may hold only 'train' and 'test'.*'dev'"):
        load_dataset(p)


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "nope.csv", r"dataset '.*nope.csv' not found: give a path"),
    (lambda d: d, r"is a directory"),
    (lambda d: put(d / "x.xlsx", "t"), r"unknown format '.xlsx'.*use .csv"),
    (lambda d: put(d / "e.csv", ""), r"e.csv is empty"),
    (lambda d: put(d / "h.csv", "text,label\n"), r"h.csv has no rows"),
    (lambda d: put(d / "b.csv", b"text,label\ncaf\xe9,x\nb,y\n"),
     r"not valid UTF-8 \(byte 0xe9 at line 2\).*re-save it as UTF-8"),
    (lambda d: put(d / "b.parquet", b"not parquet"), r"cannot read .* as PARQUET"),
    (lambda d: write_csv(d / "c.csv", [("a", "x")], ("body", "label")),
     r"text column 'text' not found in c.csv; columns are: body, label \(choose with --text-col\)"),
    (lambda d: write_csv(d / "c.csv", [("a", "x")], ("text", "cls")),
     r"label column 'label' not found in c.csv; columns are: text, cls"),
    (lambda d: write_csv(d / "o.csv", [("a", "x"), ("b", "x")]),
     r"has only 'x': active learning needs at least 2 classes"),
    (lambda d: write_csv(d / "n.csv", [("a", "x"), (None, "y"), ("  ", "x"), ("d", "y")]),
     r"2 of 4 rows have an empty, missing or non-string 'text' \(rows 1, 2\).*--drop-invalid"),
])
def test_bad_input_has_one_clear_error(tmp_path, make, message):
    with pytest.raises(DataError, match=message):
        load_dataset(make(tmp_path))


def test_unknown_minority_lists_classes(good_csv):
    with pytest.raises(DataError, match=r"minority label 'spam' is not in column 'label'; its classes are: finance, pets"):
        load_dataset(good_csv, minority="spam")


def test_all_classes_minority_refused(good_csv):
    with pytest.raises(DataError, match="leave at least one majority class"):
        load_dataset(good_csv, minority=["finance", "pets"])


def test_drop_invalid(tmp_path):
    p = write_csv(tmp_path / "n.csv", [("a", "x"), (None, "y"), ("", "x"), ("d", "y")])
    ds = load_dataset(p, drop_invalid=True)
    assert list(ds.texts) == ["a", "d"] and ds.dropped == (1, 2)


def test_jsonl_non_string_text(tmp_path):
    p = tmp_path / "j.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in [{"text": 3, "label": "x"}, {"text": "b", "label": "y"}]))
    with pytest.raises(DataError, match=r"1 of 2 rows have an empty, missing or non-string"):
        load_dataset(p)


def test_from_arrays():
    ds = from_arrays(["a", "b", "c"], ["x", "y", "x"], minority="y")
    assert ds.minority == (1,) and ds.n == 3


@pytest.mark.parametrize("rows, columns, args, message", [
    ([("a", "x")], ("body", "label"), [], "text column 'text' not found"),
    ([("a", "x"), ("b", "x")], ("text", "label"), [], "at least 2 classes"),
    (ROWS, ("text", "label"), ["--minority", "spam"], "minority label 'spam' is not in column"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, capsys, rows, columns, args, message):
    p = write_csv(tmp_path / "d.csv", rows, columns)
    code = main(["prepare", str(p), "--cache-dir", str(tmp_path / "c"), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_missing_file(tmp_path, capsys):
    assert main(["prepare", str(tmp_path / "missing.csv")]) == 2
    assert "not found" in capsys.readouterr().err
