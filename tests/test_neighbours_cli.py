"""``anchoral neighbours``: a table of the k nearest rows of a text or a row; errors exit 2."""

import numpy as np
import pandas as pd
import pytest

from explorer.cli import main


def cli(capsys, tmp_path, *args):
    rc = main(["neighbours", "sample", *args, "--cache-dir", str(tmp_path / "cache")])
    out, err = capsys.readouterr()
    return rc, out, err


def table_ids(out):
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()
            and not line.startswith("wrote")]
    return [int(r[1]) for r in rows], [float(r[3]) for r in rows]


def test_row_query_table_and_export(capsys, tmp_path):
    from explorer.neighbours import neighbours
    from explorer.prepare import prepare

    rc, out, err = cli(capsys, tmp_path, "--id", "3", "-k", "7", "--out",
                       str(tmp_path / "n.csv"))
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("7 nearest rows to row 3 in sample (4,278 rows; exact index")
    assert lines[1].split() == ["rank", "id", "label", "similarity", "text"]
    ids, sims = table_ids(out)
    want = neighbours(prepare("sample", cache_dir=tmp_path / "cache", projection=False,
                              progress=False), 3, k=7)
    assert ids == want.ids.tolist() and 3 not in ids
    np.testing.assert_allclose(sims, want.similarity, atol=1e-4)
    assert all(len(line) < 120 for line in lines[2:9])  # texts truncated to one line
    df = pd.read_csv(tmp_path / "n.csv")
    assert df["id"].tolist() == ids and df.columns.tolist() == ["rank", "id", "similarity",
                                                                  "label", "text"]


def test_text_query(capsys, tmp_path):
    rc, out, err = cli(capsys, tmp_path, "free money, claim your prize now", "-k", "3")
    assert rc == 0, err
    assert out.splitlines()[0].startswith("3 nearest rows to 'free money, claim your prize now'")
    ids, sims = table_ids(out)
    assert len(ids) == 3 and sims == sorted(sims, reverse=True)


@pytest.mark.parametrize("args, match", [
    ((), "give a TEXT to search for or --id ROW (one of them)"),
    (("words", "--id", "2"), "give a TEXT to search for or --id ROW (one of them)"),
    (("--id", "2", "-k", "0"), "-k=0 must be an integer between 1 and 4277; the pool has 4,278 "
                               "rows besides the query row"),
    (("--id", "4278"), "TEXT=4278 must be an integer between 0 and 4277"),
    (("  ",), "TEXT='  ' must be a non-empty text; type some words, or give a row id"),
])
def test_errors_one_line_exit_2(capsys, tmp_path, args, match):
    rc, out, err = cli(capsys, tmp_path, *args)
    assert rc == 2 and out == ""
    assert err.startswith("anchoral neighbours: error: ") and match in err
    assert len(err.strip().splitlines()) == 1
