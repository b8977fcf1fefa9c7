"""benchmarks/bench_paper.py on a paper-style task of the shipped sample: checkpoint + resume is
exact, and the fine-tuned path runs end to end on a 2k slice (the CI smoke test of the GPU setting)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_paper  # noqa: E402

TASK = ["sample", "--task", "binary:spam@1%", "--test-negatives", "500", "--seeds", "0",
        "--strategies", "entropy"]


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_paper, "RESULTS", tmp_path)
    monkeypatch.setattr(bench_paper, "PAPER_DIR", tmp_path / "paper")
    return tmp_path / "paper"


def _run(tag, extra):
    bench_paper.main(TASK + ["--tag", tag] + extra)


def test_an_interrupted_run_resumes_exactly(results, monkeypatch):
    args = ["--rounds", "5", "--checkpoint", "2", "--filters", "anchoral,randsub"]
    _run("_whole", args)
    # interrupt after round 3: the checkpoint of round 2 stays behind
    from explorer.run import Run

    step = Run.step

    def dying_step(self):
        if self.round == 3:
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(Run, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        _run("_cut", args)
    seed0 = results / "sample-binary-spam-1pct_cut" / "lr" / "seed0"
    partial = seed0 / "anchoral-entropy.parquet.partial"
    assert partial.exists() and not (seed0 / "anchoral-entropy.parquet").exists()
    assert pd.read_parquet(partial)["round"].max() == 2
    monkeypatch.setattr(Run, "step", step)
    _run("_cut", args)
    assert not partial.exists()
    for name in ("anchoral-entropy", "randsub-entropy"):
        whole = pd.read_parquet(results / "sample-binary-spam-1pct_whole" / "lr" / "seed0"
                                / f"{name}.parquet")
        cut = pd.read_parquet(seed0 / f"{name}.parquet")
        assert list(cut["round"]) == [0, 1, 2, 3, 4, 5]
        for a, b in zip(whole["queried_ids"], cut["queried_ids"]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(whole["minority_f1"], cut["minority_f1"])
        np.testing.assert_allclose(whole["minority_share"], cut["minority_share"])
        # the resumed rounds were measured, the replayed ones kept from the checkpoint
        assert cut["t_selection_cpu"].iloc[1:].notna().all()


@pytest.mark.slow
def test_finetuned_setting_smoke_on_a_2k_slice(results):
    """The paper's model path (MiniLM re-initialised and fine-tuned every round) on 2,000 rows of
    a binary 1 % task, on the CPU; on a GPU the same command takes ``--device cuda``."""
    _run("", ["--subset", "2000", "--model", "finetune", "--epochs", "1", "--max-length", "32",
              "--learning-rate", "4e-5", "--batch-size", "32", "--device", "cpu", "--rounds", "1",
              "--filters", "anchoral", "--checkpoint", "0"])
    out = results / "sample-binary-spam-1pct_sub2000" / "finetune_e1_lr4e-05_bs32_len32"
    df = pd.read_parquet(out / "seed0" / "anchoral-entropy.parquet")
    assert list(df["round"]) == [0, 1]
    assert df["n_encoded"].iloc[1] > 0  # the encoder really scored the subpool
    assert df["t_train_cpu"].notna().all()
    import json

    s = json.loads((out / "settings.json").read_text())
    assert s["model_params"]["learning_rate"] == 4e-5 and s["model_params"]["device"] == "cpu"
    assert s["minority"] == ["spam"] and s["classes"] == 2


def test_a_named_task_takes_no_task_spec(results):
    with pytest.raises(SystemExit, match=r"wordnet-binary-1 is already a task; give its base "
                                         r"pool with --task"):
        bench_paper.load_pool("wordnet-binary-1", task="binary:noun.food@1%")


def test_claim_verdicts_follow_the_papers_direction():
    import paper_claims

    def r(lo, hi, n=3):
        return {"n": n, "ci_low": lo, "ci_high": hi}

    assert paper_claims.verdict(r(0.01, 0.05), +1, 3) == "agrees"
    assert paper_claims.verdict(r(-0.05, -0.01), +1, 3) == "opposite"
    assert paper_claims.verdict(r(-0.01, 0.05), +1, 3) == "no difference"
    # cost: AnchorAL should be lower, so a negative difference agrees
    assert paper_claims.verdict(r(-0.5, -0.1), -1, 3) == "agrees"
    assert paper_claims.verdict(r(0.1, 0.5), -1, 3) == "opposite"
    assert paper_claims.verdict(r(0.1, 0.5, n=2), -1, 3) == "incomplete (2 seeds)"
    assert paper_claims.verdict(r(np.nan, np.nan, n=1), +1, 3) == "incomplete (1 seed)"


def test_claims_table_marks_missing_pairs():
    import paper_claims

    runs = pd.DataFrame([
        {"filter": f, "strategy": "entropy", "seed": s, "share_auc": v, "f1_auc": v,
         "final_f1": v, "final_maj_f1": v, "t_sel_cpu": c}
        for s in range(3) for f, v, c in (("anchoral", 0.5 + s / 100, 0.1),
                                          ("full", 0.2 + s / 50, 1.0 + s / 10))])
    rows = paper_claims.claims_table(runs)
    full = {r["claim"]: r for r in rows if r["baseline"] == "full" and r["strategy"] == "entropy"}
    assert full["(iii) minority-share AUC"]["verdict"] == "agrees"
    assert full["(i) selection CPU s/round"]["verdict"] == "agrees"
    assert full["(iii) minority-share AUC"]["seeds"] == 3
    seals = [r for r in rows if r["baseline"] == "seals"]
    assert seals and all(r["verdict"] == "not run" and r["anchoral"] == "" for r in seals)
