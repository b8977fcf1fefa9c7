"""Selection-time scaling: per-round retrieval / scoring / selection time of every filter x strategy.

    python benchmarks/bench_selection.py            # synthetic 10k, 100k, 1M (+ Brown if cached)
    python benchmarks/bench_selection.py --quick    # synthetic 10k and 100k, fewer rounds

Each configuration (pool, index, filter, strategy) is an :class:`explorer.experiment.Experiment` with one
run and the engine's defaults (LR head, 100 initial rows with 5 per minority class, 25 queries per
round, 20 % held-out test split, M = ``default_subpool_size``, 10 anchors per class, k = 50). Round 0
(initial fit) and ``--warmup`` rounds are run untimed, then ``--rounds`` rounds are timed with the
engine's own ``time.perf_counter`` timings (``Selection.t_retrieval / t_scoring / t_selection``);
the table reports the median over the timed rounds (``--rounds-1m``, default 2, at 1M), and
``cpu_propose``, the CPU time (``time.process_time``) of the whole ``Run.propose()``, since on a
shared machine wall time also counts waiting for a core (``--threads 1`` by default). ``t_context`` is the time the session spends
outside the filter building the round's unlabelled / excluded id arrays (it grows with the pool).

FullPool and RandomSubpool do not use the index, so they are run once per pool (under "exact"
only). Exact = FAISS IndexFlatIP; ivf = IndexIVFFlat with nprobe calibrated to recall@50 >= 0.95.
Only one copy of a pool's vectors is held (plus the index's own copy inside FAISS).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timer, limit_threads, save, table  # noqa: E402

FILTERS = ("anchoral", "full", "randsub", "seals")
STRATEGIES = ("entropy", "badge")
INDEX_FREE = ("full", "randsub")  # filters that never search the index


def synthetic_prepared(n, random_state=0):
    """A Prepared-like bundle over ``make_pool(n)`` without an index (added per kind)."""
    from explorer.data import from_arrays
    from explorer.prepare import Prepared
    from explorer.synthetic import make_pool

    X, y, _ = make_pool(n, random_state=random_state)
    labels = np.where(y == 1, "minority", "majority")
    ds = from_arrays([f"row {i}" for i in range(n)], labels, minority=["minority"],
                     name=f"synthetic-{n}")
    return Prepared(dataset=ds, embeddings=X, coords=None, index=None, cache_dir=Path("."),
                    timings={})


def brown_prepared():
    """The Brown pool from the cache (None when its embeddings are not cached yet)."""
    from explorer.data import load_dataset
    from explorer.embed import SentenceEncoder, cache_key
    from explorer.prepare import default_cache_dir, prepare

    try:
        ds = load_dataset("brown", minority=["science_fiction", "humor"])
        cached = default_cache_dir() / "embeddings" / f"{cache_key(ds.texts, SentenceEncoder())}.npy"
        if not cached.exists():  # never start a (20-minute) embedding from a benchmark
            print(f"brown skipped: embeddings not cached at {cached}; run "
                  "`anchoral prepare brown` first", flush=True)
            return None
        p = prepare(ds, projection=False,
                    index="exact", progress=False)
    except Exception as err:  # not built / not embedded: skip, say why
        print(f"brown skipped: {err}", flush=True)
        return None
    if p.sources.get("embeddings") == "computed":
        print("brown: embeddings were computed now (they were not cached)", flush=True)
    p.embeddings = np.ascontiguousarray(np.asarray(p.embeddings, np.float32))
    return p


def time_config(prepared, filt, strat, warmup, rounds, seed=0):
    from explorer.experiment import Experiment

    exp = Experiment(prepared, [(filt, strat)], model="lr", seed=seed)
    run = exp.runs[0]
    exp.start()
    for _ in range(warmup):
        run.step()
    rec = {"t_retrieval": [], "t_scoring": [], "t_selection": [], "t_context": [],
           "t_train": [], "subpool": [], "cpu_propose": [], "wall_propose": []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        run.context()
        rec["t_context"].append(time.perf_counter() - t0)
        with Timer() as tm:  # context + filter.select, wall and CPU
            sel = run.propose()
        rec["cpu_propose"].append(tm.cpu)
        rec["wall_propose"].append(tm.wall)
        r = run.commit()
        for k in ("t_retrieval", "t_scoring", "t_selection", "t_train"):
            rec[k].append(getattr(r, k))
        rec["subpool"].append(len(sel.subpool))
    out = {k: statistics.median(v) for k, v in rec.items()}
    out["t_selection_all"] = rec["t_selection"]
    out["subpool_size_param"] = exp.subpool_size
    out["n_pool"] = len(exp.train_ids)
    del exp, run
    gc.collect()
    return out


def bench_pool(name, prepared, kinds, warmup, rounds, rows):
    from explorer.index import build_index

    n = prepared.dataset.n
    for kind in kinds:
        t0 = time.perf_counter()
        prepared.index = build_index(prepared.embeddings, kind)
        build = time.perf_counter() - t0
        print(f"\n{name}: {prepared.index.describe()} built in {build:.1f} s", flush=True)
        for filt in FILTERS:
            if filt in INDEX_FREE and kind != kinds[0]:
                continue
            for strat in STRATEGIES:
                r = time_config(prepared, filt, strat, warmup, rounds)
                row = {"pool": name, "n": n, "index": kind if filt not in INDEX_FREE else "-",
                       "filter": filt, "strategy": strat, **r}
                rows.append(row)
                print(table([row], COLS), flush=True)
        prepared.index = None
        gc.collect()


COLS = ["pool", "n", "index", "filter", "strategy", "subpool", "t_retrieval", "t_scoring",
        "t_selection", "cpu_propose", "t_context", "t_train"]


def _get_key(rows, pool, index, filt, strat, key):
    for r in rows:
        if r["pool"] == pool and r["index"] == index and r["filter"] == filt and \
                r["strategy"] == strat:
            return r[key]
    return None


def headline(rows, sizes, key="t_selection"):
    """The ratios the issue asks for, computed from rows of one run (``key``: the time used)."""
    h = {}

    def _get(*a):  # noqa: F811 - bind the key
        return _get_key(*a, key)

    small, big = f"synthetic-{min(sizes)}", f"synthetic-{max(sizes)}"
    for strat in STRATEGIES:
        for kind in ("ivf", "exact"):
            a, b = _get(rows, big, kind, "anchoral", strat), _get(rows, small, kind, "anchoral", strat)
            if a and b:
                h[f"anchoral_{strat}_{kind}_t({max(sizes)})/t({min(sizes)})"] = a / b
    for n in sizes:
        pool = f"synthetic-{n}"
        full_badge = _get(rows, pool, "-", "full", "badge")
        for kind in ("ivf", "exact"):
            for strat in STRATEGIES:
                a = _get(rows, pool, kind, "anchoral", strat)
                if a and full_badge:
                    h[f"{pool}_full_badge/anchoral_{strat}_{kind}"] = full_badge / a
            a = _get(rows, pool, kind, "anchoral", "entropy")
            f = _get(rows, pool, "-", "full", "entropy")
            if a and f:
                h[f"{pool}_full_entropy/anchoral_entropy_{kind}"] = f / a
    return h


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k and 100k, 1 warm-up + 2 timed rounds")
    ap.add_argument("--sizes", type=int, nargs="+")
    ap.add_argument("--kinds", nargs="+", default=["exact", "ivf"])
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--rounds-1m", type=int, default=2,
                    help="timed rounds on pools of 1M rows and more (full-pool BADGE: minutes each)")
    ap.add_argument("--no-brown", action="store_true")
    ap.add_argument("--no-synthetic", action="store_true", help="only the Brown pool")
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP/FAISS threads (default 1: stable on a shared machine; 0 = all)")
    args = ap.parse_args(argv)
    threads = limit_threads(args.threads)
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    rounds = args.rounds or (2 if args.quick else 3)
    if args.no_synthetic:
        sizes = []
    rows = []
    for n in ([] if args.no_synthetic else sizes):
        t0 = time.perf_counter()
        p = synthetic_prepared(n)
        print(f"synthetic pool {n:,} built in {time.perf_counter() - t0:.1f} s", flush=True)
        bench_pool(f"synthetic-{n}", p, args.kinds, args.warmup,
                   args.rounds_1m if n >= 1_000_000 and not args.rounds else rounds, rows)
        del p
        gc.collect()
    if not args.no_brown and not args.quick:
        p = brown_prepared()
        if p is not None:
            bench_pool("brown", p, args.kinds, args.warmup, rounds, rows)
            del p
    print()
    print(table(rows, COLS))
    h = {"wall": headline(rows, sizes, "t_selection"), "cpu": headline(rows, sizes, "cpu_propose")} \
        if sizes else {"wall": {}, "cpu": {}}
    print()
    print(f"{'ratio':60s} {'wall':>8s} {'cpu':>8s}")
    for k, v in h["wall"].items():
        print(f"{k:60s} {v:8.2f} {h['cpu'].get(k, float('nan')):8.2f}")
    path = save("selection" + ("_quick" if args.quick else "") + args.tag,
                {"rounds_timed": rounds, "warmup": args.warmup, "model": "lr", **threads,
                 "headline": h, "rows": rows})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
