"""Every CSV the project writes neutralises formula cells; Parquet and JSONL stay exact."""

import io

import numpy as np
import pandas as pd
import pytest

from explorer.export import neutralise_formulas, table_bytes, to_csv, write_table

HOSTILE = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR",
           "plain text", "a=b", " =spaced", "", "two\r=lines", "two\n+lines"]


def frame():
    return pd.DataFrame({"id": np.arange(len(HOSTILE), dtype=np.int64), "text": HOSTILE,
                         "score": np.linspace(-1.5, 1.0, len(HOSTILE)),
                         "label": pd.Categorical(["=cls"] + ["ham"] * (len(HOSTILE) - 1))})


def test_formula_cells_get_a_quote_and_nothing_else_changes():
    out = neutralise_formulas(frame())
    assert out["text"].tolist() == ["'" + t for t in HOSTILE[:6]] + HOSTILE[6:]
    assert out["label"].tolist()[0] == "'=cls" and out["label"].tolist()[1] == "ham"
    pd.testing.assert_series_equal(out["score"], frame()["score"])  # numbers untouched
    pd.testing.assert_series_equal(out["id"], frame()["id"])
    assert frame()["text"].tolist() == HOSTILE  # the input is not changed


def test_csv_file_and_buffer_are_neutralised_and_numbers_stay_numbers(tmp_path):
    path = write_table(frame(), tmp_path / "t.csv")
    buf = io.StringIO()
    to_csv(frame(), buf)
    for back in (pd.read_csv(path, keep_default_na=False),
                 pd.read_csv(io.StringIO(buf.getvalue()), keep_default_na=False),
                 pd.read_csv(io.BytesIO(table_bytes(frame(), "csv")), keep_default_na=False)):
        cells = back["text"].tolist()
        assert not any(str(c).startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
        assert back["score"].dtype == np.float64 and back["score"].iloc[0] == -1.5
        assert back["id"].tolist() == list(range(len(HOSTILE)))  # no cell split into rows
        assert cells[-2:] == ["two\r=lines", "two\n+lines"]  # one quoted cell each


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_parquet_and_jsonl_stay_exact(tmp_path, fmt):
    path = write_table(frame(), tmp_path / f"t.{fmt}")
    back = (pd.read_parquet(path) if fmt == "parquet"
            else pd.read_json(path, lines=True, dtype=False))
    assert back["text"].tolist() == HOSTILE
    data = table_bytes(frame(), fmt)
    back = (pd.read_parquet(io.BytesIO(data)) if fmt == "parquet"
            else pd.read_json(io.BytesIO(data), lines=True, dtype=False))
    assert back["text"].tolist() == HOSTILE


def test_session_label_export_csv_is_neutralised(tmp_path):
    """The labels export of a session (``anchoral export``) goes through the same writer."""
    from explorer.export import export
    from explorer.experiment import Experiment
    from explorer.store import Session

    from conftest import make_prepared

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(180, int), np.ones(20, int)]
    texts = np.array(["=cmd|' /C calc'!A0" if i % 2 else f"-{i} row" for i in range(200)], object)
    p = make_prepared(rng.normal(size=(200, 8)) + y[:, None] * 3, y, texts=texts)
    exp = Experiment(p, runs=(("full", "entropy"),), init_size=20, query_size=5)
    exp.run(1)
    out = export(Session.in_memory(exp), "labels", tmp_path / "labels.csv")
    back = pd.read_csv(out, keep_default_na=False)
    assert len(back) > 0 and back["text"].str.startswith("'").all()
    out = export(Session.in_memory(exp), "labels", tmp_path / "labels.parquet")
    assert pd.read_parquet(out)["text"].str[0].isin(["=", "-"]).all()


def test_format_error():
    from explorer.exceptions import ParameterError

    with pytest.raises(ParameterError, match=r"^format='xlsx' is unknown; choose one of csv, "
                       r"parquet, jsonl"):
        table_bytes(frame(), "xlsx")
