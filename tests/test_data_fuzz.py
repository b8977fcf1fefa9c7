"""Property-based tests of the loaders: any file gives a Dataset that matches it, or one DataError.

Hypothesis writes random bytes, wrong encodings, NUL bytes, huge fields, repeated or missing
columns and labels that look like numbers as CSV/TSV/JSONL/Parquet files, and
:func:`explorer.data.load_dataset` must either load exactly what was written or raise the house
one-line :class:`~explorer.exceptions.DataError`, never another exception. Examples are few and
derandomized (same examples on every run, no example database), so the suite stays fast and CI
deterministic.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings  # the test extra: fails when missing
from hypothesis import strategies as st

from explorer.cli import main
from explorer.data import load_dataset
from explorer.exceptions import DataError

#: ``ANCHORAL_FUZZ_EXAMPLES=2000`` searches longer, with fresh random examples (not for CI)
_LONG = int(os.environ.get("ANCHORAL_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG or 30, deadline=None, derandomize=not _LONG, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
#: labels a spreadsheet or a JSON writer produces: numbers as text, padding, "NA"-like words
LABEL_WORDS = ("1", "1.0", "01", " 1 ", "0", "spam", "ham", "NA", "null", "None", "nan", "True",
               "<b>x</b>", "{{ x }}", "@label", "")


@contextmanager
def scratch():
    """A fresh directory per example (pytest's tmp_path is one per test, not per example)."""
    d = Path(tempfile.mkdtemp(prefix="anchoral-fuzz-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def load_or_error(path, **kwargs):
    """The Dataset, or None after checking the DataError is one clear line."""
    try:
        ds = load_dataset(path, **kwargs)
    except DataError as err:
        msg = str(err)
        assert msg and "\n" not in msg and "\r" not in msg, repr(msg)
        assert "Traceback" not in msg and len(msg) < 600, msg
        return None
    assert ds.n == len(ds.texts) == len(ds.y) > 0
    assert all(isinstance(t, str) and t.strip() for t in ds.texts)
    assert list(ds.classes) == sorted(set(ds.classes)) and len(ds.classes) >= 2
    assert ds.y.dtype == np.int64 and ds.y.min() >= -1 and ds.y.max() < ds.n_classes
    assert set(np.unique(ds.y[ds.y >= 0])) == set(range(ds.n_classes))
    assert ds.minority and all(0 <= c < ds.n_classes for c in ds.minority)
    return ds


def write_table(path: Path, rows, columns=("text", "label"), encoding="utf-8"):
    """Write ``rows`` in the format of ``path``'s suffix, quoting like the usual writers do."""
    suffix = path.suffix
    if suffix == ".parquet":
        pd.DataFrame(rows, columns=list(columns)).to_parquet(path, index=False)
        return path
    if suffix == ".jsonl":
        text = "".join(json.dumps(dict(zip(columns, r)), ensure_ascii=False) + "\n" for r in rows)
    else:
        buf = io.StringIO()
        w = csv.writer(buf, delimiter="\t" if suffix == ".tsv" else ",")  # quotes \r and \n
        w.writerow(columns)
        w.writerows(rows)
        text = buf.getvalue()
    path.write_bytes(text.encode(encoding))
    return path


# --------------------------------------------------------------------------- random bytes
@FUZZ
@given(suffix=st.sampled_from(SUFFIXES),
       head=st.sampled_from([b"", b"text,label\n", b"text\tlabel\n", b'{"text": "a", "label": 1}\n',
                             b"PAR1", b"\xef\xbb\xbf", b"\xff\xfe"]),
       body=st.binary(max_size=600))
def test_random_bytes_load_or_give_one_data_error(suffix, head, body):
    with scratch() as d:
        p = d / f"data{suffix}"
        p.write_bytes(head + body)
        load_or_error(p)


# ----------------------------------------------------------------- well-formed but hostile
TEXT_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs",))
texts = st.one_of(
    st.text(TEXT_CHARS, max_size=40),
    st.sampled_from(["<script>alert(1)</script>", '<img src=x onerror="alert(1)">', "{{ 7*7 }}",
                     "@text", "a\x00b", "\x00", "  ", "NA", "null", "line\nbreak", "cr\rlf\r\n",
                     '"quoted", with comma', "tab\tinside", "\ufeffbom", "é ü 中文 🙂"]),
)


@FUZZ
@given(suffix=st.sampled_from(SUFFIXES),
       rows=st.lists(st.tuples(texts, st.sampled_from(LABEL_WORDS)), min_size=1, max_size=12),
       drop_invalid=st.booleans())
def test_written_tables_load_exactly_or_give_one_data_error(suffix, rows, drop_invalid):
    with scratch() as d:
        ds = load_or_error(write_table(d / f"t{suffix}", rows), drop_invalid=drop_invalid)
    valid = [bool(t.strip()) for t, _ in rows]
    kept = [r for r, ok in zip(rows, valid) if ok] if drop_invalid else rows
    names = {lab.strip() for _, lab in kept if lab.strip()}
    if ds is None:
        assert (not all(valid) and not drop_invalid) or len(names) < 2 or not kept
        return
    assert list(ds.texts) == [t for t, _ in kept]  # NUL, markup, quotes, newlines: all kept
    assert set(ds.classes) == names  # "1", "1.0" and "01" are three classes, "NA" is a class
    assert [ds.classes[v] if v >= 0 else "" for v in ds.y] == [lab.strip() for _, lab in kept]
    assert ds.dropped == tuple(i for i, ok in enumerate(valid) if not ok)


@FUZZ
@given(suffix=st.sampled_from((".csv", ".tsv", ".jsonl")),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"]),
       rows=st.lists(st.tuples(st.sampled_from(["café", "naïve", "plain", "中文", "ok"]),
                               st.sampled_from(["a", "b"])), min_size=2, max_size=6))
def test_encodings_load_or_name_the_encoding(suffix, encoding, rows):
    rows = rows + [("x", "a"), ("y", "b")]
    with scratch() as d:
        try:
            p = write_table(d / f"e{suffix}", rows, encoding=encoding)
        except UnicodeEncodeError:  # "中文" has no latin-1 spelling
            return
        ds = load_or_error(p)
        ascii_only = all(t.isascii() for t, _ in rows)
        if encoding in ("utf-8", "utf-8-sig", "utf-16") or (ascii_only and encoding != "utf-16-le"):
            assert ds is not None and list(ds.texts) == [t for t, _ in rows]
        else:  # latin-1 with accents, or UTF-16 without its byte-order mark
            assert ds is None
            with pytest.raises(DataError, match=r"(not valid UTF-8|looks like UTF-16 without a "
                                                r"byte-order mark).*re-save it as UTF-8"):
                load_dataset(p)


@FUZZ
@given(suffix=st.sampled_from((".csv", ".tsv", ".jsonl")),
       columns=st.lists(st.sampled_from(["text", "label", "split", "id", "note"]), min_size=1,
                        max_size=5))
def test_repeated_or_missing_columns_are_named(suffix, columns):
    values = {"text": "some text", "label": "x", "split": "train", "id": "7", "note": "n"}
    rows = [[values[c] if c != "label" else lab for c in columns] for lab in ("x", "y", "x")]
    with scratch() as d:
        p = write_table(d / f"c{suffix}", rows, columns=tuple(columns))
        try:
            ds = load_dataset(p)
        except DataError as err:
            msg = str(err)
        else:
            msg = None
    used = [c for c in ("text", "label", "split", "id") if c in columns]
    if "text" not in columns or "label" not in columns:
        assert msg is not None and "not found" in msg
    elif suffix != ".jsonl" and any(columns.count(c) > 1 for c in used):
        assert msg is not None and "appears" in msg and "rename all but one" in msg
    else:  # JSON objects keep their last repeated key, as json.loads does
        assert msg is None, msg
        assert list(ds.texts) == ["some text"] * 3 and ds.classes == ("x", "y")


# ------------------------------------------------------------------------- hand-computed
SAME_TYPE = [
    ([1, 2, 1], ("1", "2"), [0, 1, 0]),
    ([1.0, 2.0, None], ("1", "2"), [0, 1, -1]),       # an int column with a gap reads as floats
    ([1.5, 2.0, 2.5], ("1.5", "2", "2.5"), [0, 1, 2]),
    ([True, False, True], ("False", "True"), [1, 0, 1]),
]
MIXED = [  # JSON only: a Parquet column has one type
    (["01", "1", 1], ("01", "1"), [0, 1, 1]),          # text is never reinterpreted as a number
    (["1.0", 1.0, "x"], ("1", "1.0", "x"), [1, 0, 2]),
]


@pytest.mark.parametrize("suffix, values, classes, y",
                         [(".jsonl", *case) for case in SAME_TYPE + MIXED]
                         + [(".parquet", *case) for case in SAME_TYPE])
def test_numeric_labels_name_classes_like_their_integers(tmp_path, suffix, values, classes, y):
    p = write_table(tmp_path / f"n{suffix}", [(f"t{i}", v) for i, v in enumerate(values)])
    ds = load_dataset(p)
    assert ds.classes == classes and list(ds.y) == y


def test_csv_keeps_number_like_labels_as_written(tmp_path):
    p = write_table(tmp_path / "n.csv", [("a", "1"), ("b", "1.0"), ("c", "01"), ("d", "NA"),
                                         ("null", "1")])
    ds = load_dataset(p)
    assert ds.classes == ("01", "1", "1.0", "NA")
    assert list(ds.y) == [1, 2, 0, 3, 1] and ds.texts[4] == "null"


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("size", [200_000, 1_000_000])  # > csv.field_size_limit()'s 131072
def test_huge_texts_load_whole(tmp_path, suffix, size):
    big = "x" * (size - 5) + " <b>\x00"
    p = write_table(tmp_path / f"h{suffix}", [(big, "a"), ("small", "b"), ("other", "a")])
    ds = load_dataset(p)
    assert len(ds.texts[0]) == size and ds.texts[0] == big


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_empty_file_is_one_data_error(tmp_path, suffix):
    p = tmp_path / f"empty{suffix}"
    p.write_bytes(b"")
    with pytest.raises(DataError, match=r"is empty|cannot read .* as PARQUET"):
        load_dataset(p)


@pytest.mark.parametrize("data, message", [
    (b"text,label\na,x,extra\nb,y\n", r"a row has more fields than the header; quote texts"),
    (b"text,text,label\na,b,x\nc,d,y\n", r"column 'text' appears 2 times in t.csv: rename"),
    ("text,label\na,x\nb,y\n".encode("utf-16-le"), r"looks like UTF-16 without a byte-order mark"),
    ("text,label\ncafé,x\nb,y\n".encode("latin-1"), r"not valid UTF-8 \(byte 0xe9 at line 2\)"),
    (b"\xff\xfet\x00\x00\xd8a\x00", r"UTF-16 byte-order mark but is not valid UTF-16"),
])
def test_malformed_csv_messages(tmp_path, data, message):
    p = tmp_path / "t.csv"
    p.write_bytes(data)
    with pytest.raises(DataError, match=message):
        load_dataset(p)


def test_non_scalar_labels_are_refused(tmp_path):
    p = tmp_path / "n.jsonl"
    p.write_text('{"text": "a", "label": ["x"]}\n{"text": "b", "label": "y"}\n')
    with pytest.raises(DataError, match=r"1 of 2 rows have a 'label' that is neither text nor a "
                                        r"number \(rows 0: list\); give one class name per row"):
        load_dataset(p)


def test_lone_surrogates_in_a_frame_are_invalid_text():
    from explorer.data import from_frame

    df = pd.DataFrame({"text": ["ok", "bad \ud800", "fine"], "label": ["x", "y", "y"]},
                      dtype=object)  # pandas' Arrow strings refuse a lone surrogate
    with pytest.raises(DataError, match=r"1 of 3 rows have a lone surrogate .* \(rows 1\)"):
        from_frame(df)
    ds = from_frame(df, drop_invalid=True)
    assert list(ds.texts) == ["ok", "fine"] and ds.dropped == (1,)


def test_column_names_in_messages_stay_on_one_line(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text('"body\nwith newline",label\na,x\n')
    with pytest.raises(DataError) as err:
        load_dataset(p)
    assert "\n" not in str(err.value) and "'body\\nwith newline'" in str(err.value)


@pytest.mark.parametrize("data", [b"\x00\x01\x02garbage", b"text,label\n\"unterminated,x\n"])
def test_cli_prepare_on_broken_files_is_one_line_exit_2(tmp_path, capsys, data):
    p = tmp_path / "broken.csv"
    p.write_bytes(data)
    assert main(["prepare", str(p), "--cache-dir", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
