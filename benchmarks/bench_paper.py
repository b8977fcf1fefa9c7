"""The AnchorAL paper's comparison on one real pool: 4 filters x 3 strategies x seeds, resumable.

    python benchmarks/bench_paper.py sample                      # 5 seeds, 40 rounds, LR head
    python benchmarks/bench_paper.py brown --filters anchoral,randsub,seals   # in pieces ...
    python benchmarks/bench_paper.py brown --filters full --seeds 0-2
    python benchmarks/bench_paper.py brown --aggregate-only      # ... then tables and plots only
    python benchmarks/bench_paper.py sample --model finetune --epochs 5 --subset 1200 \\
        --strategies entropy --rounds 8 --seeds 0

Lesci & Vlachos (NAACL 2024) compare AnchorAL with SEALS and RandSub, each wrapping entropy, BADGE
and a k-means (FTBERTKM-like) strategy, and full-pool AL where affordable; initial set 100
(5 per minority class), 25 queries per round, M = 10,000, k = 50. Here every (filter, strategy,
seed) run is one :class:`explorer.experiment.Experiment` run with the engine defaults (which are the
paper's, except M capped at a third of the training pool on small pools: the sample gets
M = 1,140); runs with the same seed share the initial set, the test split and every round's random
stream, so they pair across filters.

Each finished run's rounds table (scalar columns, queried ids and labels, plus the selection CPU
time and, for the fine-tuned encoder, the texts it encoded) is written to
``benchmarks/results/paper/<pool>/<model>/seed<k>/<filter>-<strategy>.parquet`` as soon as it
ends, so the script can be stopped and re-run: finished runs are read back, not recomputed.
Aggregation (every run found with at least ``--rounds`` rounds) writes ``paper_<pool>_<model>.json``,
``.md`` (tables) and ``.png`` (curves, mean ± sd bands) next to the other results.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, limit_threads, machine, table  # noqa: E402
from paper_stats import format_diff, paired_difference  # noqa: E402

FILTERS = ("anchoral", "randsub", "seals", "full")   # cheapest first
STRATEGIES = ("entropy", "badge", "kmeans")
BASELINES = ("full", "randsub", "seals")
#: minority classes per built-in pool (the sample's own minority is spam)
#: (brown: the project's usual pair; wordnet: every lexicographer file under 0.1 % of the pool)
POOLS = {"sample": {}, "brown": {"minority": ["science_fiction", "humor"]},
         "wordnet": {"minority": ["verb.weather", "adj.ppl", "noun.Tops", "noun.motive"]}}
PAPER_DIR = RESULTS / "paper"
METRICS = {"f1_auc": "minority-F1 AUC", "share_auc": "minority-share AUC",
           "final_share": "final minority share", "final_f1": "final minority F1",
           "maj_f1_auc": "majority-F1 AUC", "final_maj_f1": "final majority F1"}
COLORS = {"anchoral": "tab:red", "full": "tab:blue", "randsub": "tab:green", "seals": "tab:purple"}
DROP = ("anchor_ids", "subpool_ids")
#: where a task's approximate index is cached (default: the base pool's cache);
#: ``$ANCHORAL_TASK_INDEX_CACHE`` keeps a shared cache untouched
TASK_INDEX_CACHE = os.environ.get("ANCHORAL_TASK_INDEX_CACHE") or None  # large list columns, not needed to aggregate


def parse_seeds(text):
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,2,5"`` -> [0, 2, 5]."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-")
            out.extend(range(int(lo), int(hi) + 1))
        elif part:
            out.append(int(part))
    return sorted(set(out))


def _names(text, allowed, what):
    names = [s.strip().lower() for s in str(text).split(",") if s.strip()]
    bad = [n for n in names if n not in allowed]
    if bad:
        raise SystemExit(f"--{what} {','.join(bad)} unknown; choose from {','.join(allowed)}")
    return names


def load_pool(name, minority=None, subset=None, index="auto", task=None):
    """``prepare`` the pool (cached embeddings only); optionally a paper-style task of it
    (a name of :data:`explorer.tasks.TASKS` as ``name``, or ``task`` a spec) and/or a
    stratified subset of rows. A task slices its base pool's cached vectors."""
    from explorer.prepare import prepare
    from explorer.prepare import derive_prepared
    from explorer.tasks import TASKS

    if name in TASKS:
        if task is not None:
            raise SystemExit(f"{name} is already a task; give its base pool with --task")
        base, task = TASKS[name]
        p = derive_prepared(load_pool(base, index="exact"), task, index=index, name=name,
                            cache_dir=TASK_INDEX_CACHE)
        return _subset(p, subset)
    if task is not None:
        return _subset(derive_prepared(load_pool(name, minority, index="exact"), task,
                                       index=index, cache_dir=TASK_INDEX_CACHE), subset)
    opts = dict(POOLS.get(name, {}))
    if minority:
        opts["minority"] = minority
    from explorer.corpora import BUILTIN, cache_root

    source = name
    if name == "wordnet" and name not in BUILTIN:  # built by `anchoral fetch wordnet` elsewhere
        source = Path(cache_root()) / "datasets" / "wordnet.parquet"
    if name != "sample":  # never start an embedding job from a benchmark: cached vectors only
        from explorer.data import load_dataset
        from explorer.embed import SentenceEncoder, cache_key

        ds = load_dataset(source, **opts)
        npy = Path(cache_root()) / "embeddings" / f"{cache_key(ds.texts, SentenceEncoder())}.npy"
        if not npy.exists():
            raise SystemExit(f"{name}: no cached embeddings ({npy.name}); run "
                             f"`anchoral prepare {name}` first")
        source = ds
    p = prepare(source, projection=False, progress=False, index=index)
    return _subset(p, subset)


def _subset(p, subset):
    """A stratified subset of ``subset`` rows of a prepared pool (its split column kept)."""
    if not subset or subset >= p.dataset.n:
        return p
    from explorer.index import build_index
    from explorer.prepare import Prepared

    ds = p.dataset
    rng = np.random.RandomState(0)
    keep = []
    for c in np.unique(ds.y):  # same class proportions as the pool
        members = np.flatnonzero(ds.y == c)
        keep.append(rng.choice(members, max(1, round(subset * len(members) / ds.n)),
                               replace=False))
    keep = np.sort(np.concatenate(keep))
    sub = dataclasses.replace(
        ds, texts=ds.texts[keep], y=ds.y[keep], content_hash=f"{ds.content_hash}:subset{subset}",
        split=None if ds.split is None else ds.split[keep],
        ids=None if ds.ids is None else ds.ids[keep])
    X = np.ascontiguousarray(p.embeddings[keep])
    out = Prepared(dataset=sub, embeddings=X, coords=None, index=build_index(X, "exact"),
                   cache_dir=p.cache_dir, sources={**p.sources, "subset": f"{len(keep)} rows"})
    if getattr(p, "task", None) is not None:
        out.task = p.task
    return out


def run_dir(pool_tag, model_tag, seed):
    return PAPER_DIR / pool_tag / model_tag / f"seed{seed}"


def cached_rounds(path):
    """Rounds a cached run holds (0 when absent)."""
    if not path.exists():
        return 0
    return int(pd.read_parquet(path, columns=["round"])["round"].max())


def _timed(run, sink, fits):
    """Wrap the run's filter ``select`` to record CPU seconds and texts encoded per round, and
    the model's ``fit`` to record its CPU seconds."""
    select, fit = run.pool_filter.select, run.model.fit

    def timed_fit(ids, y):
        c0 = time.process_time()
        out = fit(ids, y)
        fits.append(time.process_time() - c0)
        return out

    def wrapper(ctx, n, rng=None):
        enc0 = getattr(run.model, "n_encoded_", None)
        c0 = time.process_time()
        sel = select(ctx, n, rng)
        cpu = time.process_time() - c0
        enc = getattr(run.model, "n_encoded_", None)
        sink.append((cpu, np.nan if enc is None else enc - enc0))
        return sel

    run.pool_filter.select = wrapper
    run.model.fit = timed_fit


def run_pool(p, pool_tag, model_tag, args, seeds, filters, strategies, model_params):
    from explorer.experiment import Experiment

    todo_all = [(f, s) for f in filters for s in strategies]
    for seed in seeds:
        out = run_dir(pool_tag, model_tag, seed)
        todo = [(f, s) for f, s in todo_all
                if cached_rounds(out / f"{f}-{s}.parquet") < args.rounds]
        if not todo:
            continue
        exp = Experiment(p, runs=todo, model=args.model, seed=seed, n_rounds=args.rounds,
                         query_size=args.query_size, init_size=args.init_size,
                         init_per_minority=args.init_per_minority,
                         subpool_size=args.subpool_size, model_params=model_params,
                         minority_only=args.minority_only)
        _write_settings(pool_tag, model_tag, p, exp, args)
        for run in exp.runs:
            path = out / f"{run.filter_name}-{run.strategy_name}.parquet"
            if cached_rounds(path) >= args.rounds:
                continue
            _one_run(run, path, pool_tag, model_tag, seed, args)


def _replay(run, done):
    """Bring ``run`` to the last round of ``done`` (a checkpoint's rounds table) by labelling the
    stored batches again (``run.choose``: no selection is computed). Exact for the stateless
    filters (AnchorAL, RandSub, full pool): every round's selection depends only on the labelled
    set, the model fitted on it and the ``(seed, round)`` random stream. The model is fitted
    once, on the last labelled set, and the replayed rounds are not evaluated (their rows come
    from the checkpoint), so resuming a fine-tuned run costs one training, not one per round."""
    exp = run.experiment
    run.start()
    test_ids = exp.test_ids
    run._fit = lambda: 0.0          # no training and ...
    exp.test_ids = test_ids[:0]     # ... no evaluation while replaying
    try:
        for ids in done.sort_values("round")["queried_ids"].iloc[1:]:
            run.choose(np.asarray(ids, np.int64))
            run.commit()
    finally:
        del run._fit
        exp.test_ids = test_ids
    run._fit()


def _one_run(run, path, pool_tag, model_tag, seed, args):
    """One (filter, strategy, seed) run to ``args.rounds`` rounds, checkpointed every
    ``args.checkpoint`` rounds to ``<path>.partial`` and resumed from there (not SEALS, whose
    cumulative neighbour search depends on when each row was labelled: it restarts)."""
    partial = path.with_name(path.name + ".partial")
    sink, fits = [], []
    done = None
    if partial.exists() and run.filter_name != "seals":
        done = pd.read_parquet(partial)
        t0 = time.perf_counter()
        _replay(run, done)
        print(f"  {pool_tag} seed {seed} {run.key}: resumed at round {run.round} "
              f"({time.perf_counter() - t0:.0f} s to replay)", flush=True)
    _timed(run, sink, fits)
    t0, c0 = time.perf_counter(), time.process_time()
    if done is None:
        run.start()
    first = run.round

    def frame():
        df = run.rounds_frame().drop(columns=list(DROP))
        new = df[df["round"] > first] if done is not None else df
        new = new.copy()
        pad = [] if done is not None else [np.nan]
        new["t_selection_cpu"] = pad + [c for c, _ in sink]
        new["n_encoded"] = pad + [e for _, e in sink]
        new["t_train_cpu"] = fits
        new["pool"] = pool_tag
        return new if done is None else pd.concat(
            [done[done["round"] <= first], new], ignore_index=True)

    def write(target):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        frame().to_parquet(tmp, index=False)
        tmp.replace(target)

    for r in range(first, args.rounds):
        rec = run.step()
        if (r + 1) % 10 == 0 or r == 0 or args.model == "finetune":
            print(f"  {pool_tag} {model_tag} seed {seed} {run.key} round {r + 1}: "
                  f"share {rec.minority_share:.3f} F1 {rec.minority_f1:.3f} "
                  f"scored {rec.subpool_size} sel {rec.t_selection:.2f} s "
                  f"train {rec.t_train:.2f} s [{time.perf_counter() - t0:.0f} s, "
                  f"load {open('/proc/loadavg').read().split()[0]}]", flush=True)
        if args.checkpoint and (r + 1) % args.checkpoint == 0 and r + 1 < args.rounds:
            write(partial)
    write(path)
    partial.unlink(missing_ok=True)
    print(f"{pool_tag} {model_tag} seed {seed} {run.key}: {args.rounds} rounds in "
          f"{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU "
          f"-> {path.relative_to(RESULTS)}", flush=True)


def _write_settings(pool_tag, model_tag, p, exp, args):
    path = PAPER_DIR / pool_tag / model_tag / "settings.json"
    s = {"pool": pool_tag, "model": args.model, "model_params": exp.model_params,
         "n_rows": int(p.dataset.n), "n_train": int(len(exp.train_ids)),
         "n_test": int(len(exp.test_ids)), "classes": len(p.dataset.classes),
         "minority": [p.dataset.classes[c] for c in exp.minority],
         "pool_minority_share": float(exp.pool_minority_share),
         "minority_rows": {p.dataset.classes[c]: int((p.dataset.y == c).sum())
                           for c in exp.minority},
         "index": p.index.describe(), "init_size": exp.init_size,
         "init_per_minority": exp.init_per_minority, "query_size": exp.query_size,
         **exp.filter_params}
    if path.exists():
        old = json.loads(path.read_text())
        diff = {k for k in s if k != "index" and old.get(k) != s[k]}
        if diff:
            raise SystemExit(f"{path} was written with other settings ({', '.join(sorted(diff))})"
                             "; use --tag for a separate result set")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(s, indent=2) + "\n")


# -- aggregation -----------------------------------------------------------------------------
def load_runs(pool_tag, model_tag, rounds, seeds=None):
    """Every cached run of this pool and model (of ``seeds``, default all) with >= ``rounds``
    rounds, cut at ``rounds``."""
    frames, short = [], []
    for path in sorted((PAPER_DIR / pool_tag / model_tag).glob("seed*/*.parquet")):
        if seeds is not None and int(path.parent.name[4:]) not in seeds:
            continue
        df = pd.read_parquet(path)
        if df["round"].max() < rounds:
            short.append(f"{path.parent.name}/{path.stem} ({df['round'].max()} rounds)")
            continue
        frames.append(df[df["round"] <= rounds])
    if short:
        print(f"not aggregated (fewer than {rounds} rounds): {', '.join(short)}")
    return pd.concat(frames, ignore_index=True) if frames else None


def per_run(df):
    """One row per (filter, strategy, seed): AUCs, final values, mean per-round costs."""
    from explorer.metrics import curve_auc

    rows = []
    for (f, s, seed), g in df.groupby(["filter", "strategy", "seed"], sort=False):
        g = g.sort_values("round")
        sel = g[g["round"] > 0]
        rows.append({"filter": f, "strategy": s, "seed": int(seed),
                     "f1_auc": curve_auc(g["minority_f1"].to_numpy()),
                     "share_auc": curve_auc(g["minority_share"].to_numpy()),
                     "final_share": float(g["minority_share"].iloc[-1]),
                     "final_f1": float(g["minority_f1"].iloc[-1]),
                     "maj_f1_auc": curve_auc(g["majority_f1"].to_numpy()),
                     "final_maj_f1": float(g["majority_f1"].iloc[-1]),
                     "n_labelled": int(g["n_labelled"].iloc[-1]),
                     "t_sel": float(sel["t_selection"].mean()),
                     "t_sel_cpu": float(sel["t_selection_cpu"].mean()),
                     "t_train": float(sel["t_train"].mean()),
                     "t_train_cpu": float(sel["t_train_cpu"].mean())
                     if "t_train_cpu" in sel else np.nan,
                     "scored": float(sel["subpool_size"].mean()),
                     "encoded": float(sel["n_encoded"].mean())})
    return pd.DataFrame(rows)


def _miqr(x, d=3):
    """``median [q25, q75]`` over seeds."""
    q = np.percentile(np.asarray(x, float), [50, 25, 75])
    return f"{q[0]:.{d}f} [{q[1]:.{d}f}, {q[2]:.{d}f}]"


def _ms(x, d=3):
    x = np.asarray(x, float)
    sd = x.std(ddof=1) if len(x) > 1 else 0.0
    return f"{x.mean():.{d}f} ± {sd:.{d}f}"


def summarise(runs):
    rows = []
    for s in STRATEGIES:
        for f in FILTERS:
            g = runs[(runs["filter"] == f) & (runs["strategy"] == s)]
            if g.empty:
                continue
            rows.append({"strategy": s, "filter": f, "seeds": len(g),
                         "f1_auc": _ms(g.f1_auc), "final_f1": _ms(g.final_f1),
                         "share_auc": _ms(g.share_auc), "final_share": _ms(g.final_share),
                         "final_f1_median_iqr": _miqr(g.final_f1),
                         "final_maj_f1_median_iqr": _miqr(g.final_maj_f1),
                         "f1_auc_median_iqr": _miqr(g.f1_auc),
                         "final_share_median_iqr": _miqr(g.final_share),
                         "sel_s_round": f"{g.t_sel.mean():.3f}",
                         "sel_cpu_s_round": f"{g.t_sel_cpu.mean():.3f}",
                         "train_s_round": f"{g.t_train.mean():.3f}",
                         "train_cpu_s_round": f"{g.t_train_cpu.mean():.3f}",
                         "texts_scored_round": f"{g.scored.mean():,.0f}",
                         **({"texts_encoded_round": f"{g.encoded.mean():,.0f}"}
                            if g.encoded.notna().any() else {}),
                         **{f"{k}_mean": float(g[k].mean()) for k in
                            ("f1_auc", "final_f1", "share_auc", "final_share", "maj_f1_auc",
                             "final_maj_f1", "t_sel",
                             "t_sel_cpu", "scored")}})
    return rows


def pairs(runs):
    """``(strategy, baseline, AnchorAL rows, baseline rows, seeds both ran)`` for every strategy
    and baseline (the rows indexed by seed; ``seeds`` may be empty)."""
    for s in STRATEGIES:
        a = runs[(runs["filter"] == "anchoral") & (runs["strategy"] == s)].set_index("seed")
        for b_name in BASELINES:
            b = runs[(runs["filter"] == b_name) & (runs["strategy"] == s)].set_index("seed")
            yield s, b_name, a, b, sorted(set(a.index) & set(b.index))


def paired(runs):
    """AnchorAL minus each baseline, per strategy and metric, paired on seed."""
    rows = []
    for s, b_name, a, b, seeds in pairs(runs):
        if not seeds:
            continue
        for m in METRICS:
            r = paired_difference(a.loc[seeds, m], b.loc[seeds, m])
            rows.append({"strategy": s, "baseline": b_name, "metric": m, "seeds": len(seeds),
                         "anchoral": round(r["mean_a"], 4), "baseline_mean": round(r["mean_b"], 4),
                         "diff_ci95": format_diff(r), "p_t": r["p_t"],
                         "p_wilcoxon": r["p_wilcoxon"], "wins": f"{r['wins']}/{r['n']}",
                         **{k: r[k] for k in ("mean_diff", "ci_low", "ci_high")}})
    return rows


def plot(df, settings, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    strategies = [s for s in STRATEGIES if s in set(df["strategy"])]
    fig, axes = plt.subplots(len(strategies), 3, figsize=(15, 3.9 * len(strategies)),
                             squeeze=False)
    for row, s in zip(axes, strategies):
        for f in FILTERS:
            g = df[(df["filter"] == f) & (df["strategy"] == s)]
            if g.empty:
                continue
            n = g.seed.nunique()
            for ax, col in zip(row, ("minority_share", "minority_f1", "t_selection_cpu")):
                st = g.groupby("n_labelled")[col].agg(["mean", "std"]).reset_index()
                if col == "t_selection_cpu":
                    st = st[st.n_labelled > st.n_labelled.min()]
                ax.plot(st.n_labelled, st["mean"], color=COLORS[f], label=f"{f} (n={n})")
                if n > 1:
                    ax.fill_between(st.n_labelled, st["mean"] - st["std"].fillna(0),
                                    st["mean"] + st["std"].fillna(0), color=COLORS[f], alpha=0.12)
        row[0].axhline(settings["pool_minority_share"], color="grey", lw=1, ls=":",
                       label="pool prior")
        row[0].set(title=f"{title} / {s}: minority share of labelled set", xlabel="labelled rows")
        row[1].set(title=f"{s}: minority F1 (test split)", xlabel="labelled rows")
        row[2].set(title=f"{s}: selection CPU s per round", xlabel="labelled rows", yscale="log")
        row[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def aggregate(pool_tag, model_tag, rounds, seeds=None):
    settings_path = PAPER_DIR / pool_tag / model_tag / "settings.json"
    df = load_runs(pool_tag, model_tag, rounds, seeds)
    if df is None or not settings_path.exists():
        print(f"nothing to aggregate for {pool_tag}/{model_tag}")
        return None
    settings = json.loads(settings_path.read_text())
    runs = per_run(df)
    rows, pairs = summarise(runs), paired(runs)
    name = f"paper_{pool_tag}_{model_tag}"
    png = RESULTS / f"{name}.png"
    plot(df, settings, png, pool_tag)
    cols = ["strategy", "filter", "seeds", "f1_auc", "final_f1", "share_auc", "final_share",
            "sel_s_round", "sel_cpu_s_round", "texts_scored_round"]
    if any("texts_encoded_round" in r for r in rows):
        cols.append("texts_encoded_round")
    pcols = ["strategy", "baseline", "metric", "seeds", "anchoral", "baseline_mean", "diff_ci95",
             "p_t", "p_wilcoxon", "wins"]
    mcols = ["strategy", "filter", "seeds", "final_f1_median_iqr", "final_maj_f1_median_iqr",
             "f1_auc_median_iqr", "final_share_median_iqr"]
    print(table(rows, cols))
    print()
    print(table(rows, mcols))
    print()
    if pairs:
        print(table(pairs, pcols))
    md = [f"Pool `{pool_tag}`, model `{model_tag}`: {settings['n_train']:,} training rows, "
          f"{settings['n_test']:,} test rows, {settings['classes']} classes, minority "
          f"{', '.join(settings['minority'])} (pool prior {settings['pool_minority_share']:.4f}); "
          f"M = {settings['subpool_size']:,}, k = {settings['n_neighbors']}, "
          f"{settings['n_anchors']} anchors per class, init {settings['init_size']} "
          f"({settings['init_per_minority']} per minority class), {settings['query_size']} per "
          f"round, {rounds} rounds ({settings['init_size'] + rounds * settings['query_size']:,} "
          "labels).", "", _md(rows, cols), "", "Median [IQR] over seeds:", "", _md(rows, mcols),
          "", _md(pairs, pcols)]
    (RESULTS / f"{name}.md").write_text("\n".join(md) + "\n")
    curves = (df.groupby(["filter", "strategy", "round"])
              [["n_labelled", "minority_share", "minority_f1", "majority_f1", "t_selection",
                "t_selection_cpu", "subpool_size"]].agg(["mean", "std", "median"]))
    curves.columns = [f"{a}_{b}" for a, b in curves.columns]
    payload = {"machine": machine(), "settings": settings, "rounds": rounds, "table": rows,
               "paired": pairs, "per_run": runs.to_dict("records"),
               "curves": curves.reset_index().to_dict("records"), "plot": png.name}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=1, default=float) + "\n")
    print(f"\nsaved {name}.json, .md, .png in {RESULTS}")
    return payload


def paired_quality(path=RESULTS / "quality.json"):
    """Paired AnchorAL-vs-baseline statistics of an earlier ``bench_quality.py`` run (its
    per-seed rows: 3 seeds, 20 rounds, entropy and BADGE), written to ``paper_quality_paired.md``."""
    d = json.loads(Path(path).read_text())
    per = pd.DataFrame(d["per_seed"]).rename(columns={
        "minority_share": "final_share", "minority_f1": "final_f1", "minority_f1_auc": "f1_auc"})
    cols = ["dataset", "strategy", "baseline", "metric", "seeds", "anchoral", "baseline_mean",
            "diff_ci95", "p_t", "p_wilcoxon", "wins"]
    rows = []
    for ds, g in per.groupby("dataset", sort=False):
        for s in ("entropy", "badge"):
            a = g[(g["filter"] == "anchoral") & (g["strategy"] == s)].set_index("seed")
            for b_name in BASELINES:
                b = g[(g["filter"] == b_name) & (g["strategy"] == s)].set_index("seed")
                seeds = sorted(set(a.index) & set(b.index))
                for m in ("f1_auc", "final_share", "final_f1"):
                    r = paired_difference(a.loc[seeds, m], b.loc[seeds, m])
                    rows.append({"dataset": ds, "strategy": s, "baseline": b_name, "metric": m,
                                 "seeds": len(seeds), "anchoral": round(r["mean_a"], 4),
                                 "baseline_mean": round(r["mean_b"], 4),
                                 "diff_ci95": format_diff(r), "p_t": r["p_t"],
                                 "p_wilcoxon": r["p_wilcoxon"], "wins": f"{r['wins']}/{r['n']}"})
    print(table(rows, cols))
    out = RESULTS / "paper_quality_paired.md"
    out.write_text(f"From `{Path(path).name}` ({d['machine']['date']}; {d['rounds']} rounds of "
                   f"{d['query_size']}, seeds {d['seeds']}).\n\n" + _md(rows, cols) + "\n")
    print(f"\nsaved {out}")


def _md(rows, cols):
    def cell(v):
        if isinstance(v, float):
            return "" if np.isnan(v) else (f"{v:.3g}" if abs(v) < 1e-3 else f"{v:.3f}")
        return str(v)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pool", nargs="?", help="sample, brown, wordnet or a data file")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--model", default="lr", choices=["lr", "mlp", "finetune"])
    ap.add_argument("--filters", default=",".join(FILTERS))
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--minority", nargs="+", help="minority class labels (default per pool)")
    ap.add_argument("--subset", type=int, help="a stratified subset of this many rows")
    ap.add_argument("--epochs", type=int, help="fine-tuning epochs per round (finetune)")
    ap.add_argument("--class-weight", choices=["balanced"])
    ap.add_argument("--learning-rate", type=float, help="fine-tuning learning rate (paper: 4e-5)")
    ap.add_argument("--batch-size", type=int, help="fine-tuning batch size (paper: 32)")
    ap.add_argument("--max-length", type=int, help="fine-tuning max tokens (paper: 512)")
    ap.add_argument("--device", choices=["cpu", "cuda"], help="fine-tuning device (default: "
                    "CUDA when torch sees one)")
    ap.add_argument("--paper-finetune", action="store_true",
                    help="the reference code's fine-tuning settings where this model has them: "
                    "10 epochs, learning rate 4e-5, batch 32 (see docs/paper.md)")
    ap.add_argument("--task", help="a paper-style task of POOL (binary:CLASS@SHARE, ...; "
                    "explorer/tasks.py); named tasks (wordnet-binary-1, ...) are POOL names")
    ap.add_argument("--test-negatives", type=int, help="negatives in a --task's test split "
                    "(default 5,000, as the reference code)")
    ap.add_argument("--checkpoint", type=int, default=10,
                    help="write an unfinished run every N rounds (<run>.parquet.partial) and "
                    "resume from it (0: never)")
    ap.add_argument("--query-size", type=int, default=25)
    ap.add_argument("--init-size", type=int, default=100)
    ap.add_argument("--init-per-minority", type=int, default=5)
    ap.add_argument("--subpool-size", type=int, help="M (default: 10,000 capped by pool size)")
    ap.add_argument("--index", default="auto", choices=["auto", "exact", "ivf", "hnsw"])
    ap.add_argument("--minority-only", action="store_true",
                    help="AnchorAL anchors from the minority classes only (a named deviation "
                         "from the paper; results go to POOL_minonly)")
    ap.add_argument("--tag", default="", help="suffix of the result set's pool folder")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--aggregate-only", action="store_true")
    ap.add_argument("--no-aggregate", action="store_true",
                    help="run only; no tables or plots (a queue aggregates once at the end)")
    ap.add_argument("--paired-quality", action="store_true",
                    help="only the paired statistics of results/quality.json (bench_quality.py)")
    args = ap.parse_args(argv)
    if args.paired_quality:
        return paired_quality()
    if not args.pool:
        ap.error("POOL is required (sample, brown, wordnet or a data file)")
    seeds = parse_seeds(args.seeds)
    filters = _names(args.filters, FILTERS, "filters")
    strategies = _names(args.strategies, STRATEGIES, "strategies")
    task = None
    if args.task:
        from explorer.tasks import parse_task

        task = parse_task(args.task, **({"test_negatives": args.test_negatives}
                                        if args.test_negatives else {}))
    data_file = Path(args.pool).suffix.lower() in (".csv", ".tsv", ".parquet", ".pq", ".jsonl",
                                                   ".ndjson")
    name = Path(args.pool).stem if data_file else args.pool
    pool_tag = name + (f"-{task.slug()}" if task else "") + \
        (f"_sub{args.subset}" if args.subset else "") + \
        ("_minonly" if args.minority_only else "") + args.tag
    if args.paper_finetune:
        args.epochs = args.epochs or 10
        args.learning_rate = args.learning_rate or 4e-5
        args.batch_size = args.batch_size or 32
    model_params = {}
    for key in ("epochs", "class_weight", "learning_rate", "batch_size", "max_length", "device"):
        if getattr(args, key):
            model_params[key] = getattr(args, key)
    model_tag = args.model + (f"_e{args.epochs}" if args.epochs else "") + \
        ("_balanced" if args.class_weight else "") + \
        (f"_lr{args.learning_rate:g}" if args.learning_rate else "") + \
        (f"_bs{args.batch_size}" if args.batch_size else "") + \
        (f"_len{args.max_length}" if args.max_length else "")
    if args.model == "finetune":
        import torch  # noqa: F401  (so limit_threads caps torch too)
    print(limit_threads(args.threads), f"load {open('/proc/loadavg').read().split()[:3]}",
          flush=True)
    if not args.aggregate_only:
        t0 = time.perf_counter()
        p = load_pool(args.pool, args.minority, args.subset, args.index, task)
        print(f"{pool_tag}: {p.dataset.n:,} rows, {len(p.dataset.classes)} classes, index "
              f"{p.index.describe()} ({time.perf_counter() - t0:.0f} s)", flush=True)
        run_pool(p, pool_tag, model_tag, args, seeds, filters, strategies, model_params)
    # --aggregate-only aggregates the seeds asked for; after a run, every seed found
    if args.no_aggregate and not args.aggregate_only:
        return None
    aggregate(pool_tag, model_tag, args.rounds, seeds if args.aggregate_only else None)


if __name__ == "__main__":
    main()
