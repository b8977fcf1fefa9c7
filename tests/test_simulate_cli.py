"""``anchoral simulate`` through the CLI: errors (exit 2, one line) and end-to-end runs."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from explorer.cli import main
from explorer.experiment import QUERY_COLUMNS, ROUND_COLUMNS


@pytest.fixture
def toy_csv(tmp_path):
    """400 texts in two classes (40 'rare') with precomputed 16-d vectors: no model needed."""
    rng = np.random.RandomState(0)
    y = np.r_[["common"] * 360, ["rare"] * 40]
    pd.DataFrame({"text": [f"text number {i}" for i in range(400)], "label": y}).to_csv(
        tmp_path / "toy.csv", index=False)
    X = rng.normal(size=(400, 16)) + (y == "rare")[:, None] * 2.5
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    np.save(tmp_path / "toy.npy", X.astype(np.float32))
    return tmp_path


def cli(args, toy):
    return main(["simulate", str(toy / "toy.csv"), "--embeddings", str(toy / "toy.npy"),
                 "--cache-dir", str(toy / "cache"), "--quiet", "--out", str(toy / "out"), *args])


def check_outputs(out: Path, n_runs, rounds, query_size):
    r = pd.read_parquet(out / "rounds.parquet")
    q = pd.read_parquet(out / "queries.parquet")
    assert set(ROUND_COLUMNS) <= set(r.columns)
    assert len(r) == n_runs * (rounds + 1)
    assert q.columns.tolist() == QUERY_COLUMNS and len(q) == n_runs * rounds * query_size
    assert q.groupby(["filter", "strategy", "seed"])["id"].nunique().eq(rounds * query_size).all()
    return r, q


def test_simulate_end_to_end_on_a_csv(toy_csv, capsys):
    rc = cli(["--filters", "anchoral,full,randsub,seals", "--strategies", "entropy,badge",
              "--rounds", "3", "--query-size", "10", "--init-size", "30", "--n-neighbors", "20",
              "--seed", "0,1"], toy_csv)
    assert rc == 0
    out = capsys.readouterr()
    assert "minority-F1 AUC" in out.out and "anchoral" in out.out and "±" in out.out
    assert "subpool size M = 250 (default" in out.err
    r, _ = check_outputs(toy_csv / "out", 8 * 2, 3, 10)
    assert sorted(r["seed"].unique()) == [0, 1]


@pytest.mark.parametrize("args, message", [
    (["--filters", "anchoral,magic"], r"--filters='magic' is unknown; choose one of anchoral"),
    (["--strategies", "entropy,coreset"], r"--strategies='coreset' is unknown; choose one of"),
    (["--filters", ","], r"--filters=',' is empty"),
    (["--rounds", "0"], r"--rounds=0 must be an integer >= 1"),
    (["--query-size", "-5"], r"--query-size=-5 must be an integer >= 1"),
    (["--init-size", "0"], r"--init-size=0 must be an integer >= 1"),
    (["--subpool-size", "0"], r"--subpool-size=0 must be an integer >= 1"),
    (["--n-anchors", "0"], r"--n-anchors=0 must be an integer >= 1"),
    (["--n-neighbors", "0"], r"--n-neighbors=0 must be an integer >= 1"),
    (["--temperature", "0"], r"--temperature=0.0 must be a number > 0"),
    (["--anchor-strategy", "centroid"], r"--anchor-strategy='centroid' is unknown"),
    (["--sampling", "greedy"], r"--sampling='greedy' is unknown; choose one of topk, softmax"),
    (["--seed", "a"], r"--seed='a' must be an integer or a comma-separated list"),
    (["--test-size", "abc"], r"--test-size='abc' must be a fraction in \(0, 1\)"),
    (["--n-neighbors", "5000"], r"n_neighbors=5000 is larger than the training pool \(320 rows\)"),
    (["--rounds", "50"], r"rounds=50 would exhaust the pool: .* use rounds <= 8"),
])
def test_simulate_errors_are_one_line(args, message, toy_csv, capsys):
    import re

    assert cli(args, toy_csv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("anchoral simulate: error: ")
    assert re.search(message, err[0]), err[0]


@pytest.mark.slow
def test_simulate_on_the_shipped_sample(tmp_path, capsys):
    """The sample end to end (shipped embeddings: no encoder run), a few rounds, all filters.
    The sample ships with the code: when it does not load, the test fails."""
    rc = main(["simulate", "sample", "--filters", "anchoral,full,randsub,seals", "--strategies",
               "entropy", "--rounds", "2", "--quiet", "--out", str(tmp_path)])
    assert rc == 0
    r, q = check_outputs(tmp_path, 4, 2, 25)
    assert (r.loc[r["round"] > 0, "t_selection"] > 0).all()
    assert (q.loc[q["filter"] == "anchoral", "anchor_id"] >= 0).all()
