"""`anchoral label` in a terminal: label by typing, quit, resume, hostile text, export."""

import subprocess
import sys

import pandas as pd
import pytest

from explorer.commands.label import clean

pytestmark = pytest.mark.slow

TOPICS = {
    "finance": "Stocks and bonds moved as {} traders watched the central bank.",
    "sport": "The {} team won the match after a late goal in extra time.",
}


@pytest.fixture
def data(tmp_path):
    rows = [(TOPICS["finance"].format(w), "finance") for w in
            "early late nervous calm busy quiet bold young old many few".split()] * 3
    rows += [(TOPICS["sport"].format(w), "sport") for w in "home away local".split()]
    rows += [("\x1b[31mred\x1b[0m <script>alert(1)</script> finance news", "")]
    rows += [(f"unlabelled text about markets number {i}", "") for i in range(20)]
    p = tmp_path / "d.csv"
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(p, index=False)
    return p


def label(data, session, answers, *extra):
    return subprocess.run(
        [sys.executable, "-m", "explorer.cli", "label", str(data), "--session", str(session),
         "--query-size", "3", "--subpool-size", "20", "--n-neighbors", "5", *extra],
        input=answers, capture_output=True, text=True, timeout=300)


def test_label_quit_resume_export(data, tmp_path):
    session = tmp_path / "s"
    first = label(data, session, "1\nq\n")
    assert first.returncode == 0, first.stderr
    assert "annotate mode" in first.stdout and "saved; run the same command" in first.stdout
    assert "\x1b" not in first.stdout  # terminal escapes from the data are stripped
    second = label(data, session, "2\ns\n")  # the first label was kept as pending
    assert second.returncode == 0, second.stderr
    assert "resumed session" in second.stdout and "round 1 saved" in second.stdout
    labels = pd.read_parquet(session / "labels.parquet")
    assert labels["label"].tolist()[:2] == ["finance", "sport"] and labels["skipped"].tolist() == [False, False, True]
    out = tmp_path / "labels.jsonl"
    assert subprocess.run([sys.executable, "-m", "explorer.cli", "export", str(session), "--out",
                           str(out)], capture_output=True, text=True).returncode == 0
    assert len(pd.read_json(out, lines=True)) == 3


def test_clean_strips_escapes():
    assert clean("\x1b[2J\x1b[31mhi\x07 there", 0) == "hi there"
    assert clean("x" * 50, 10) == "x" * 10 + " [...]"
