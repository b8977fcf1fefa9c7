"""Our numbers next to the paper's direction, per claim, strategy and baseline, for one result set.

    python benchmarks/paper_claims.py wordnet-binary-1            # LR head, 200 rounds
    python benchmarks/paper_claims.py wordnet-binary-1 --rounds 200 --min-seeds 3

Reads every finished run of ``benchmarks/results/paper/<pool>/<model>/seed*/`` (runs with fewer
than ``--rounds`` rounds, i.e. unfinished ones, are left out and listed) and writes
``results/paper_claims_<pool>_<model>.md``: one row per (strategy, baseline) with, per claim, the
paired difference AnchorAL − baseline over the seeds both have finished, its 95 % interval and a
verdict against the paper's direction:

* (iii) more balanced labelled set: minority-share AUC over rounds, AnchorAL higher;
* (ii) better models: minority-F1 AUC over rounds and final minority F1, AnchorAL higher;
  final majority F1 alongside (the paper reports both);
* (i) faster: selection CPU seconds per round, AnchorAL lower (and texts scored per round).

A verdict is ``agrees`` (interval on the paper's side of 0), ``opposite`` (on the other side),
``no difference`` (interval includes 0), or ``incomplete`` when fewer than ``--min-seeds`` seeds
have both runs finished; a pair never run is ``not run``. No number is written that was not
measured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_paper import STRATEGIES, load_runs, pairs, per_run  # noqa: E402
from common import RESULTS  # noqa: E402
from paper_stats import format_diff, paired_difference  # noqa: E402

#: metric -> (claim, the paper's direction: +1 AnchorAL higher, -1 AnchorAL lower)
CLAIMS = {"share_auc": ("(iii) minority-share AUC", +1),
          "f1_auc": ("(ii) minority-F1 AUC", +1),
          "final_f1": ("(ii) final minority F1", +1),
          "final_maj_f1": ("final majority F1", +1),
          "t_sel_cpu": ("(i) selection CPU s/round", -1)}


def verdict(r, direction, n_min):
    if r["n"] < n_min or np.isnan(r["ci_low"]):
        return f"incomplete ({r['n']} seed{'s' if r['n'] != 1 else ''})"
    lo, hi = r["ci_low"] * direction, r["ci_high"] * direction
    if direction < 0:
        lo, hi = hi, lo
    if lo > 0:
        return "agrees"
    if hi < 0:
        return "opposite"
    return "no difference"


def claims_table(runs, n_min=3):
    """Rows of (strategy, baseline, claim, seeds, AnchorAL, baseline, diff [CI], verdict)."""
    rows = []
    for s, b_name, a, b, seeds in pairs(runs):
        for m, (claim, direction) in CLAIMS.items():
            if not seeds:
                rows.append({"strategy": s, "baseline": b_name, "claim": claim, "seeds": 0,
                             "anchoral": "", "baseline_value": "", "diff_ci95": "",
                             "verdict": "not run"})
                continue
            r = paired_difference(a.loc[seeds, m], b.loc[seeds, m])
            rows.append({"strategy": s, "baseline": b_name, "claim": claim,
                         "seeds": len(seeds), "anchoral": f"{r['mean_a']:.3f}",
                         "baseline_value": f"{r['mean_b']:.3f}", "diff_ci95": format_diff(r),
                         "verdict": verdict(r, direction, n_min)})
    return rows


def share_by_round(df, rounds=(4, 20, 40, 100, 200)):
    """Minority share of the labelled set after the given rounds: median over seeds, per
    (strategy, filter), with the seeds counted."""
    from bench_paper import FILTERS

    rows = []
    for s in STRATEGIES:
        for f in FILTERS:
            g = df[(df["filter"] == f) & (df["strategy"] == s)]
            if g.empty:
                continue
            row = {"strategy": s, "filter": f, "seeds": g["seed"].nunique()}
            for r in rounds:
                at = g[g["round"] == r]
                row[f"{int(at['n_labelled'].iloc[0]) if len(at) else r} labels"] = \
                    f"{at['minority_share'].median():.3f}" if len(at) else ""
            rows.append(row)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pool")
    ap.add_argument("--model", default="lr")
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--min-seeds", type=int, default=3)
    args = ap.parse_args(argv)
    df = load_runs(args.pool, args.model, args.rounds)
    if df is None:
        raise SystemExit(f"no finished run of {args.pool}/{args.model} with {args.rounds} rounds")
    runs = per_run(df)
    done = runs.groupby(["filter", "strategy"])["seed"].apply(sorted).to_dict()
    rows = claims_table(runs, args.min_seeds)
    cols = ["strategy", "baseline", "claim", "seeds", "anchoral", "baseline_value", "diff_ci95",
            "verdict"]
    lines = [f"`{args.pool}`, model `{args.model}`, {args.rounds} rounds; finished runs (seeds): "
             + "; ".join(f"{f}/{s} {v}" for (f, s), v in sorted(done.items())) + ".", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    share = share_by_round(df)
    if share:
        scols = list(share[0])
        lines += ["", "Minority share of the labelled set (median over seeds) after:", "",
                  "| " + " | ".join(scols) + " |", "|" + "---|" * len(scols)]
        lines += ["| " + " | ".join(str(r[c]) for c in scols) + " |" for r in share]
    out = RESULTS / f"paper_claims_{args.pool}_{args.model}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
