"""Selection-time scaling: per-round retrieval / scoring / selection time of every filter x strategy.

    python benchmarks/bench_selection.py            # synthetic 10k, 100k, 1M (+ Brown if cached)
    python benchmarks/bench_selection.py --quick    # synthetic 10k and 100k, fewer rounds

Each configuration (pool, index, filter, strategy) is an :class:`explorer.session.Experiment` with one
run and the engine's defaults (LR head, 100 initial rows with 5 per minority class, 25 queries per
round, 20 % held-out test split, M = ``default_subpool_size``, 10 anchors per class, k = 50). Round 0
(initial fit) and ``--warmup`` rounds are run untimed, then ``--rounds`` rounds are timed with the
engine's own ``time.perf_counter`` timings (``Selection.t_retrieval / t_scoring / t_selection``);
the table reports the median over the timed rounds (``--rounds-1m``, default 2, at 1M), and
``cpu_propose``, the CPU time (``time.process_time``) of the whole ``Run.propose()``, since on a
shared machine wall time also counts waiting for a core (``--threads 1`` by default).
``t_context`` is the time the session spends outside the filter getting the round's unlabelled
ids / exclusion mask (cached: ~0), ``t_pool_update`` what a commit spends updating them with the
round's ids (a binary search and one copy of the id array).

Before the pools, the machine's floors are measured (one thread, CPU time): memory bandwidth by a
numpy streaming read of 1 GB and peak ``sgemm`` GFLOP/s (2048^3); each pool then gets a
"retrieval vs floor" row: exact search of 20 pool rows (k = 50, 20 % of the pool excluded) against
max(bytes of the pool / bandwidth, 2 q n d / peak), for float32 and float16 storage.

FullPool and RandomSubpool do not use the index, so they are run once per pool (under "exact"
only). Exact = blocked BLAS matrix products over the embeddings (no copy); ivf = IndexIVFFlat
trained on a sample, nprobe calibrated to recall@50 >= 0.95, built once per pool into a temporary
cache directory, from which ``index="auto"`` (the default) is then resolved: the headline
"default" ratios use the kind auto picks for that pool. Results are saved after every pool.
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
FLOOR_REPEATS = 5


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
    from explorer.session import Experiment

    exp = Experiment(prepared, [(filt, strat)], model="lr", seed=seed)
    run = exp.runs[0]
    exp.start()
    for _ in range(warmup):
        run.step()
    rec = {"t_retrieval": [], "t_scoring": [], "t_selection": [], "t_context": [],
           "t_pool_update": [], "t_train": [], "subpool": [], "cpu_propose": [],
           "wall_propose": []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        run.context()
        rec["t_context"].append(time.perf_counter() - t0)
        with Timer() as tm:  # context + filter.select, wall and CPU
            sel = run.propose()
        rec["cpu_propose"].append(tm.cpu)
        rec["wall_propose"].append(tm.wall)
        t0 = time.perf_counter()
        run._pool_after(sel.ids)  # what commit spends updating the pool (pure: changes nothing)
        rec["t_pool_update"].append(time.perf_counter() - t0)
        r = run.commit()
        for k in ("t_retrieval", "t_scoring", "t_selection", "t_train"):
            rec[k].append(r[k])
        rec["subpool"].append(len(sel.subpool))
    out = {k: statistics.median(v) for k, v in rec.items()}
    out["t_selection_all"] = rec["t_selection"]
    out["subpool_size_param"] = exp.subpool_size
    out["n_pool"] = len(exp.train_ids)
    del exp, run
    gc.collect()
    return out


def retrieval_vs_floor(name, X, floor, n_anchors=20, k=50, repeats=5):
    """Exact search of ``n_anchors`` pool rows (k = 50, 20 % of the pool + the anchors
    excluded, as in a round) against the memory-pass and arithmetic floors of this machine."""
    from explorer.exact import exact_knn

    n, d = X.shape
    rng = np.random.default_rng(1)
    anchors = np.sort(rng.choice(n, size=n_anchors, replace=False))
    mask = rng.random(n) < 0.2
    mask[anchors] = True
    q = np.asarray(X[anchors], np.float32)
    out = {"pool": name, "n": n, "queries": n_anchors}
    for dtype in ("float32", "float16"):
        Xd = X if dtype == "float32" else X.astype(np.float16)
        cpu, wall = [], []
        for _ in range(repeats):
            with Timer() as tm:
                exact_knn(Xd, q, k, mask)
            cpu.append(tm.cpu)
            wall.append(tm.wall)
        mem = Xd.nbytes / floor["bandwidth_gbs"] / 1e9
        flop = 2 * n_anchors * n * d / floor["sgemm_gflops"] / 1e9
        fl = max(mem, flop)
        out.update({f"{dtype}_cpu_ms": 1e3 * statistics.median(cpu),
                    f"{dtype}_wall_ms": 1e3 * statistics.median(wall),
                    f"{dtype}_floor_mem_ms": 1e3 * mem, f"{dtype}_floor_flop_ms": 1e3 * flop,
                    f"{dtype}_pct_of_floor_cpu": 100 * fl / statistics.median(cpu)})
        del Xd
    return out


def bench_pool(name, prepared, kinds, warmup, rounds, rows, floor, floors, cache_dir):
    from explorer.index import build_index

    n = prepared.dataset.n
    floors.append(retrieval_vs_floor(name, prepared.embeddings, floor, repeats=FLOOR_REPEATS))
    print(table(floors[-1:], FLOOR_COLS), flush=True)
    for kind in kinds:
        with Timer() as tm:
            prepared.index = build_index(prepared.embeddings, kind, cache_dir=cache_dir)
        print(f"\n{name}: {prepared.index.describe()} built in {tm.wall:.1f} s wall, "
              f"{tm.cpu:.1f} s CPU", flush=True)
        builds.append({"pool": name, "n": n, "index": kind, "build_wall_s": tm.wall,
                       "build_cpu_s": tm.cpu, "describe": prepared.index.describe()})
        if kind == kinds[-1]:  # the default: which index `auto` picks (reads the cached ivf)
            auto = build_index(prepared.embeddings, "auto", cache_dir=cache_dir)
            defaults[name] = auto.kind
            print(f"{name}: index auto -> {auto.explain()}", flush=True)
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
        "t_selection", "cpu_propose", "t_context", "t_pool_update", "t_train"]
FLOOR_COLS = ["pool", "n", "float32_cpu_ms", "float32_wall_ms", "float32_floor_mem_ms",
              "float32_floor_flop_ms", "float32_pct_of_floor_cpu", "float16_cpu_ms",
              "float16_floor_mem_ms", "float16_pct_of_floor_cpu"]
builds = []    # index build times
defaults = {}  # pool -> the index kind `auto` picks


def machine_floor(mb=1024, repeats=5):
    """Memory bandwidth (a streaming read of ``mb`` MB with numpy: max and a BLAS dot with
    ones, the faster of the two) and peak sgemm GFLOP/s (2048^3), one thread, CPU time."""
    A = np.random.default_rng(0).random(mb * 2**20 // 4, dtype=np.float32)
    ones = np.ones(4096, np.float32)
    bw = []
    for f in (lambda: A.max(), lambda: A.reshape(-1, 4096) @ ones):
        ts = []
        for _ in range(repeats):
            with Timer() as tm:
                f()
            ts.append(tm.cpu)
        bw.append(A.nbytes / statistics.median(ts) / 1e9)
    B = np.random.default_rng(1).random((2048, 2048), dtype=np.float32)
    ts = []
    for _ in range(repeats):
        with Timer() as tm:
            B @ B
        ts.append(tm.cpu)
    return {"bandwidth_gbs": max(bw), "sgemm_gflops": 2 * 2048**3 / statistics.median(ts) / 1e9}


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
    for strat in STRATEGIES:  # the defaults (`--index auto`): the kind auto picked per pool
        a = _get(rows, big, defaults.get(big), "anchoral", strat)
        b = _get(rows, small, defaults.get(small), "anchoral", strat)
        if a and b:
            h[f"anchoral_{strat}_default_t({max(sizes)})/t({min(sizes)})"] = a / b
    for pool in [f"synthetic-{n}" for n in sizes] + ["brown"]:
        kind = defaults.get(pool)
        full_e, full_b = _get(rows, pool, "-", "full", "entropy"), _get(rows, pool, "-", "full", "badge")
        a_e, a_b = (_get(rows, pool, kind, "anchoral", s) for s in STRATEGIES)
        if a_e and full_e:
            h[f"{pool}_full_entropy/anchoral_entropy_default({kind})"] = full_e / a_e
        if a_b and full_b:
            h[f"{pool}_full_badge/anchoral_badge_default({kind})"] = full_b / a_b
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
    global FILTERS, STRATEGIES, FLOOR_REPEATS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k and 100k, 1 warm-up + 2 timed rounds")
    ap.add_argument("--sizes", type=int, nargs="+")
    ap.add_argument("--kinds", nargs="+", default=["exact", "ivf"])
    ap.add_argument("--filters", nargs="+", default=list(FILTERS), choices=FILTERS,
                    help="filters to time (the targets need anchoral and full)")
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    ap.add_argument("--floor-repeats", type=int, default=5)
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
    FILTERS, STRATEGIES = tuple(args.filters), tuple(args.strategies)
    FLOOR_REPEATS = args.floor_repeats
    threads = limit_threads(args.threads)
    import tempfile

    cache_dir = tempfile.mkdtemp(prefix="bench-selection-index-")  # ivf built once per pool
    floor = machine_floor()
    print(f"machine floor: {floor}", flush=True)
    floors = []
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
                   args.rounds_1m if n >= 1_000_000 and not args.rounds else rounds, rows,
                   floor, floors, cache_dir)
        del p
        gc.collect()
        _save(args, rounds, threads, floor, floors, rows, sizes)  # partial results survive
    if not args.no_brown and not args.quick:
        p = brown_prepared()
        if p is not None:
            bench_pool("brown", p, args.kinds, args.warmup, rounds, rows, floor, floors,
                       cache_dir)
            del p
    path = _save(args, rounds, threads, floor, floors, rows, sizes, final=True)
    import shutil

    shutil.rmtree(cache_dir, ignore_errors=True)  # the 1M ivf is 1.5 GB
    print(f"\nsaved {path}")


def _save(args, rounds, threads, floor, floors, rows, sizes, final=False):
    if final:
        print()
        print(table(rows, COLS))
    h = {"wall": headline(rows, sizes or [0], "t_selection"),
         "cpu": headline(rows, sizes or [0], "cpu_propose")}
    if final:
        print()
        print(f"{'ratio':60s} {'wall':>8s} {'cpu':>8s}")
        for k, v in h["wall"].items():
            print(f"{k:60s} {v:8.2f} {h['cpu'].get(k, float('nan')):8.2f}")
        print()
        print(table(floors, FLOOR_COLS))
        print(table(builds, ["pool", "index", "build_wall_s", "build_cpu_s", "describe"]))
        print(f"index auto picked: {defaults}")
    return save("selection" + ("_quick" if args.quick else "") + args.tag,
                {"rounds_timed": rounds, "warmup": args.warmup, "model": "lr", **threads,
                 "filters": FILTERS, "strategies": STRATEGIES, "argv": sys.argv[1:],
                 "machine_floor": floor, "auto_index": defaults, "headline": h,
                 "retrieval_vs_floor": floors, "index_builds": builds, "rows": rows})


if __name__ == "__main__":
    main()
