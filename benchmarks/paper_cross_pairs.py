"""Pair one result set's AnchorAL runs with another set's runs of the same pool and seeds.

    python benchmarks/paper_cross_pairs.py wordnet_minonly wordnet          # LR head, entropy

A variant of AnchorAL (``bench_paper.py POOL --minority-only`` writes ``POOL_minonly``) changes
no baseline: runs with the same seed share the initial set, the test split and every round's
random stream (the variant set's own RandSub runs are checked to query the same ids as the
main set's). So its AnchorAL runs pair by seed with the main set's full-pool, SEALS, RandSub and
AnchorAL runs. Writes ``results/paper_<variant>_vs_<main>_<model>.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS  # noqa: E402
from paper_stats import format_diff, paired_difference  # noqa: E402

METRICS = ("share_auc", "final_share", "f1_auc", "final_f1")


def same_queries(variant, main, model, strategy, seeds) -> str:
    """Whether the RandSub runs of both sets queried the same ids in every round."""
    out = []
    for s in seeds:
        paths = [RESULTS / "paper" / tag / model / f"seed{s}" / f"randsub-{strategy}.parquet"
                 for tag in (variant, main)]
        if not all(p.exists() for p in paths):
            return "not checked (a RandSub run is missing)"
        a, b = (pd.read_parquet(p)["queried_ids"] for p in paths)
        out.append(all(list(x) == list(y) for x, y in zip(a, b)))
    return (f"RandSub queried the same ids in every round of {sum(out)}/{len(out)} seeds in "
            "both sets")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant")
    ap.add_argument("main")
    ap.add_argument("--model", default="lr")
    ap.add_argument("--strategy", default="entropy")
    args = ap.parse_args(argv)
    runs = {tag: json.loads((RESULTS / f"paper_{tag}_{args.model}.json").read_text())["per_run"]
            for tag in (args.variant, args.main)}

    def by_seed(tag, flt):
        return {r["seed"]: r for r in runs[tag]
                if r["filter"] == flt and r["strategy"] == args.strategy}

    a = by_seed(args.variant, "anchoral")
    lines = [f"AnchorAL of `{args.variant}` against the runs of `{args.main}` ({args.model}, "
             f"{args.strategy}), paired by seed. "
             + same_queries(args.variant, args.main, args.model, args.strategy, sorted(a)) + ".",
             "",
             "| baseline | metric | seeds | variant | baseline mean | diff [95 % CI] | p_t | "
             "p_wilcoxon | wins |", "|---|---|--:|--:|--:|---|--:|--:|--:|"]
    cost = []
    for flt in ("full", "seals", "randsub", "anchoral"):
        base = by_seed(args.main, flt)
        seeds = sorted(set(a) & set(base))
        if not seeds:
            continue
        name = "AnchorAL (main set)" if flt == "anchoral" else flt
        for m in METRICS:
            r = paired_difference([a[s][m] for s in seeds], [base[s][m] for s in seeds])
            wins = sum(a[s][m] > base[s][m] for s in seeds)
            lines.append(f"| {name} | {m} | {len(seeds)} | {r['mean_a']:.3f} | "
                         f"{r['mean_b']:.3f} | {format_diff(r)} | {r['p_t']:.3g} | "
                         f"{r['p_wilcoxon']:.3g} | {wins}/{len(seeds)} |")
        cost.append((name, base))
    lines += ["", "| run | selection CPU s per round | texts scored per round |", "|---|--:|--:|"]
    for name, rs in [("AnchorAL (variant)", a)] + cost:
        lines.append(f"| {name} | {statistics.mean(r['t_sel_cpu'] for r in rs.values()):.3f} | "
                     f"{statistics.mean(r['scored'] for r in rs.values()):,.0f} |")
    out = RESULTS / f"paper_{args.variant}_vs_{args.main}_{args.model}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
