"""``anchoral simulate``: compare pool filters x query strategies from one initial set and seed."""

from __future__ import annotations

import sys
from pathlib import Path

from explorer.exceptions import ParameterError

HELP = ("Simulate active learning (AnchorAL, full pool, RandSub, SEALS x entropy, BADGE, ...) "
        "with a gold-label oracle; write rounds.parquet and queries.parquet.")


def _csv(value):
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _test_size(value):
    try:
        return float(value) if any(c in value for c in ".eE") else int(value)
    except ValueError:
        raise ParameterError(f"--test-size={value!r} must be a fraction in (0, 1) or a row count "
                             ">= 1") from None


#: library parameter -> this command's option, where the names differ (see explorer.cli)
OPTIONS = {"filter": "--filters", "strategy": "--strategies"}


def add_arguments(parser):
    from explorer import registry
    from explorer.cli_args import add_data_arguments

    add_data_arguments(parser)
    g = parser.add_argument_group("active learning")
    g.add_argument("--filters", default="anchoral,full",
                   help="comma-separated pool filters: " + ", ".join(registry.FILTERS))
    g.add_argument("--strategies", default="entropy",
                   help="comma-separated base strategies: " + ", ".join(registry.STRATEGIES))
    g.add_argument("--rounds", type=int, default=20, help="rounds after the initial set")
    g.add_argument("--query-size", type=int, default=25, help="ids labelled per round")
    g.add_argument("--init-size", type=int, default=100, help="initial labelled set size")
    g.add_argument("--init-per-minority", type=int, default=5,
                   help="initial rows per minority class (the rest random from the other classes)")
    g.add_argument("--seed", default="0",
                   help="random seed; a comma-separated list (0,1,2) runs every seed and reports "
                   "mean ± sd")
    g.add_argument("--test-size", default="0.2",
                   help="held-out stratified test split: fraction or row count (ignored when the "
                   "data has a `split` column)")
    g.add_argument("--model", default="lr", choices=tuple(registry.MODELS),
                   help="LR / MLP head on frozen embeddings, or the fine-tuned MiniLM encoder")
    g.add_argument("--class-weight", choices=("balanced",), default=None,
                   help="class weighting for the LR head / fine-tuned encoder")
    g.add_argument("--epochs", type=int, default=None,
                   help="fine-tuning epochs per round (--model finetune; default 3)")
    g.add_argument("--out", default=None,
                   help="output directory (default: runs/simulate-<dataset>)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    a = parser.add_argument_group("AnchorAL / RandSub / SEALS")
    a.add_argument("--subpool-size", type=int, default=None,
                   help="subpool size M; default min(10000, max(250, training pool / 3)): the "
                   "paper's 10,000 capped for small pools")
    a.add_argument("--n-anchors", type=int, default=10, help="anchors per class")
    a.add_argument("--n-neighbors", type=int, default=50,
                   help="neighbours retrieved per anchor (and per labelled row for SEALS)")
    a.add_argument("--anchor-strategy", default="kmeans++",
                   help=registry.help_text(registry.ANCHOR_STRATEGIES))
    a.add_argument("--minority-only", action="store_true",
                   help="take anchors from the minority classes only")
    a.add_argument("--sampling", default="topk",
                   help="topk: keep the M most similar; softmax: sample M by softmax(score/T)")
    a.add_argument("--temperature", type=float, default=1.0, help="softmax temperature")


def _check(args):
    """Parse the comma lists, then check every setting with the library's own checks (no data
    needed: a typo fails before the pool is prepared)."""
    from explorer._validation import check_int
    from explorer.settings import check_settings

    filters, strategies = _csv(args.filters), _csv(args.strategies)
    if not filters:
        raise ParameterError(f"--filters={args.filters!r} is empty; give e.g. anchoral,full")
    if not strategies:
        raise ParameterError(f"--strategies={args.strategies!r} is empty; give e.g. entropy")
    try:
        seeds = [int(s) for s in _csv(args.seed)]
    except ValueError:
        raise ParameterError(f"--seed={args.seed!r} must be an integer or a comma-separated "
                             "list of integers, e.g. 0,1,2") from None
    if not seeds:
        raise ParameterError(f"--seed={args.seed!r} must hold integers >= 0")
    if args.epochs is not None:
        check_int("epochs", args.epochs)
    test_size = _test_size(args.test_size)
    runs = [(f, s) for f in filters for s in strategies]
    for seed in seeds:
        runs = check_settings(runs, seed=seed, n_rounds=args.rounds, **_params(args))["runs"]
    return runs, seeds, test_size


def _params(args):
    """The Experiment keyword arguments of the options (test_size apart: it is parsed first)."""
    return dict(model=args.model, query_size=args.query_size, init_size=args.init_size,
                init_per_minority=args.init_per_minority, subpool_size=args.subpool_size,
                n_anchors=args.n_anchors, n_neighbors=args.n_neighbors,
                anchor_strategy=args.anchor_strategy, sampling=args.sampling,
                temperature=args.temperature)


def summarise(summary):
    """Mean ± sd over seeds per filter x strategy, as printable strings."""
    import pandas as pd

    keys = ["minority_share", "minority_f1_auc", "t_selection_total", "t_selection_mean"]
    rows = []
    for (f, s), g in summary.groupby(["filter", "strategy"], sort=False):
        row = {"filter": f, "strategy": s, "seeds": len(g)}
        for k in keys:
            m, sd = g[k].mean(), g[k].std(ddof=1) if len(g) > 1 else float("nan")
            fmt = "{:.3f}" if k.startswith("minority") else "{:.4f}"
            row[k] = fmt.format(m) + ("" if sd != sd else " ± " + fmt.format(sd))
        rows.append(row)
    out = pd.DataFrame(rows)
    return out.rename(columns={"minority_share": "final minority share",
                               "minority_f1_auc": "minority-F1 AUC",
                               "t_selection_total": "selection s (total)",
                               "t_selection_mean": "selection s / round"})


def run(args) -> int:
    import pandas as pd
    from tqdm.auto import tqdm

    from explorer.cli_args import prepare_from_args
    from explorer.experiment import Experiment, save_tables

    runs, seeds, test_size = _check(args)
    prepared = prepare_from_args(args, projection=False, progress=not args.quiet)
    params = dict(_params(args), test_size=test_size, minority_only=args.minority_only,
                  class_weight=args.class_weight,
                  model_params={"epochs": args.epochs} if args.epochs else None)
    experiments = [Experiment(prepared, runs, seed=seed, n_rounds=args.rounds, **params)
                   for seed in seeds]  # validate every seed before running any
    exp0 = experiments[0]
    print(f"{prepared.dataset.name}: training pool {len(exp0.train_ids):,} rows, test "
          f"{len(exp0.test_ids):,}; minority {', '.join(prepared.dataset.minority_names)} "
          f"({100 * exp0.pool_minority_share:.1f} % of the pool); model {args.model}; "
          f"subpool size M = {exp0.subpool_size:,}"
          + (" (default: 10,000 capped at a third of the pool)" if args.subpool_size is None
             else ""), file=sys.stderr)
    summaries = []
    for exp in experiments:
        bars = {r.key: tqdm(total=args.rounds, desc=f"seed {exp.seed} {r.key}", leave=True,
                            disable=args.quiet, file=sys.stderr, position=i)
                for i, r in enumerate(exp.runs)}

        def tick(run, record):
            if record.round > 0:
                bars[run.key].update(1)
                bars[run.key].set_postfix(share=f"{record.minority_share:.3f}",
                                          f1=f"{record.minority_f1:.3f}")

        exp.run(args.rounds, callback=tick)
        for bar in bars.values():
            bar.close()
        summaries.append(exp.summary().assign(seed=exp.seed))
    out = Path(args.out) if args.out else Path("runs") / f"simulate-{prepared.dataset.name}"
    out.mkdir(parents=True, exist_ok=True)
    rounds = pd.concat([e.rounds_frame() for e in experiments], ignore_index=True)
    queries = pd.concat([e.queries_frame() for e in experiments], ignore_index=True)
    save_tables(out, rounds, queries)
    summary = pd.concat(summaries, ignore_index=True)
    print(summarise(summary).to_string(index=False))
    print(f"wrote {out / 'rounds.parquet'} ({len(rounds):,} rows) and "
          f"{out / 'queries.parquet'} ({len(queries):,} rows)")
    return 0
