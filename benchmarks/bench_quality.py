"""Quality: minority share of the labelled set and minority-F1 AUC per filter x strategy.

    python benchmarks/bench_quality.py            # sample + Brown, 20 rounds of 25, seeds 0 1 2
    python benchmarks/bench_quality.py --quick    # sample only, 10 rounds, seed 0

Every (dataset, seed) is one :func:`explorer.experiment.simulate` with all runs (anchoral, full,
randsub, seals) x (entropy, badge) from the same initial set (100 rows, 5 per minority class), LR
head, engine defaults (M = ``default_subpool_size``: 1,140 on the sample, 10,000 on Brown). The table
gives mean ± sd over seeds of the last round's minority share and of the minority-F1 AUC (the
normalised area under the minority-F1 curve over rounds), and the mean per-round selection time.
The curves (mean over seeds, ± sd band) are saved as ``benchmarks/results/quality*.png``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, limit_threads, save, table  # noqa: E402

RUNS = [(f, s) for s in ("entropy", "badge") for f in ("anchoral", "full", "randsub", "seals")]
DATASETS = {"sample": {}, "brown": {"minority": ["science_fiction", "humor"]}}
COLORS = {"anchoral": "tab:red", "full": "tab:blue", "randsub": "tab:green", "seals": "tab:purple"}
STYLES = {"entropy": "-", "badge": "--"}


def run_dataset(name, seeds, rounds, query_size):
    from explorer.prepare import prepare
    from explorer.experiment import simulate

    p = prepare(name, projection=False, progress=False, **DATASETS[name])
    frames, summaries = [], []
    for seed in seeds:
        t0 = time.perf_counter()
        exp = simulate(p, rounds, runs=RUNS, seed=seed, query_size=query_size)
        df = exp.rounds_frame()
        df["dataset"] = name
        frames.append(df[["dataset", "filter", "strategy", "seed", "round", "n_labelled",
                          "minority_share", "minority_f1", "macro_f1", "subpool_size",
                          "subpool_minority_share", "t_selection", "t_train"]])
        s = exp.summary()
        s["dataset"], s["seed"] = name, seed
        summaries.append(s)
        print(f"{name} seed {seed}: {rounds} rounds x {len(RUNS)} runs in "
              f"{time.perf_counter() - t0:.0f} s (pool minority share "
              f"{exp.pool_minority_share:.3f}, M = {exp.subpool_size})", flush=True)
        print(table(s.to_dict("records"), ["filter", "strategy", "minority_share",
                                           "minority_f1_auc", "t_selection_mean"]), flush=True)
    return pd.concat(frames, ignore_index=True), pd.concat(summaries, ignore_index=True), \
        exp.pool_minority_share


def aggregate(summary):
    rows = []
    for (ds, f, s), g in summary.groupby(["dataset", "filter", "strategy"], sort=False):
        rows.append({"dataset": ds, "filter": f, "strategy": s, "seeds": len(g),
                     "minority_share": f"{g.minority_share.mean():.3f} ± {g.minority_share.std(ddof=1) if len(g) > 1 else 0:.3f}",
                     "minority_f1_auc": f"{g.minority_f1_auc.mean():.3f} ± {g.minority_f1_auc.std(ddof=1) if len(g) > 1 else 0:.3f}",
                     "share_mean": float(g.minority_share.mean()),
                     "share_sd": float(g.minority_share.std(ddof=1)) if len(g) > 1 else 0.0,
                     "auc_mean": float(g.minority_f1_auc.mean()),
                     "auc_sd": float(g.minority_f1_auc.std(ddof=1)) if len(g) > 1 else 0.0,
                     "t_selection_mean": float(g.t_selection_mean.mean())})
    return rows


def plot(rounds_df, priors, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(rounds_df["dataset"]))
    fig, axes = plt.subplots(len(names), 2, figsize=(12, 4.2 * len(names)), squeeze=False)
    for row, ds in zip(axes, names):
        d = rounds_df[rounds_df.dataset == ds]
        for (f, s), g in d.groupby(["filter", "strategy"], sort=False):
            for ax, col in zip(row, ("minority_share", "minority_f1")):
                stats = g.groupby("n_labelled")[col].agg(["mean", "std"]).reset_index()
                ax.plot(stats.n_labelled, stats["mean"], STYLES[s], color=COLORS[f],
                        label=f"{f} / {s}")
                if g.seed.nunique() > 1:
                    ax.fill_between(stats.n_labelled, stats["mean"] - stats["std"],
                                    stats["mean"] + stats["std"], color=COLORS[f], alpha=0.08)
        row[0].axhline(priors[ds], color="grey", lw=1, ls=":", label="pool prior")
        row[0].set(title=f"{ds}: minority share of the labelled set", xlabel="labelled rows",
                   ylabel="minority share")
        row[1].set(title=f"{ds}: minority-class F1 (test split)", xlabel="labelled rows",
                   ylabel="minority F1")
        row[0].legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--datasets", nargs="+", choices=list(DATASETS))
    ap.add_argument("--seeds", type=int, nargs="+")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--query-size", type=int, default=25)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    threads = limit_threads(args.threads)
    datasets = args.datasets or (["sample"] if args.quick else ["sample", "brown"])
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    rounds = args.rounds or (10 if args.quick else 20)
    all_rounds, all_summary, priors = [], [], {}
    for ds in datasets:
        r, s, priors[ds] = run_dataset(ds, seeds, rounds, args.query_size)
        all_rounds.append(r)
        all_summary.append(s)
    rounds_df = pd.concat(all_rounds, ignore_index=True)
    summary = pd.concat(all_summary, ignore_index=True)
    rows = aggregate(summary)
    print()
    print(table(rows, ["dataset", "filter", "strategy", "seeds", "minority_share",
                       "minority_f1_auc", "t_selection_mean"]))
    tag = "_quick" if args.quick else ""
    png = RESULTS / f"quality{tag}.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(rounds_df, priors, png)
    curves = (rounds_df.groupby(["dataset", "filter", "strategy", "round"])
              [["n_labelled", "minority_share", "minority_f1", "t_selection"]].mean()
              .reset_index().to_dict("records"))
    path = save("quality" + tag, {**threads, "rounds": rounds, "query_size": args.query_size,
                                  "seeds": seeds, "pool_minority_share": priors,
                                  "table": rows, "per_seed": summary.to_dict("records"),
                                  "curves": curves, "plot": png.name})
    print(f"\nsaved {path} and {png}")


if __name__ == "__main__":
    main()
