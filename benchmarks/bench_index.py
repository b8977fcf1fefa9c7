"""Retrieval quality vs speed: recall@k and search time of the approximate indexes vs exact search.

    python benchmarks/bench_index.py            # 100k and 1M synthetic 384-d pools
    python benchmarks/bench_index.py --quick    # 10k and 100k
    python benchmarks/bench_index.py --crossover  # exact vs IVF per round, 2k..100k: `auto`'s rule

Queries are 200 pool rows (as AnchorAL's anchors are), searched with k=50 while those rows are
excluded, as labelled anchors are. Exact = blocked BLAS matrix products (explorer.exact); ivf/hnsw
calibrated to recall >= 0.95. One thread (``--threads``); wall and CPU time side by side.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timer, limit_threads, save, table  # noqa: E402

from explorer.index import build_index  # noqa: E402
from explorer.synthetic import make_pool  # noqa: E402


def run(sizes, kinds, k=50, n_queries=200, repeats=3):
    rows = []
    for n in sizes:
        X, _, _ = make_pool(n, random_state=0)
        rng = np.random.default_rng(1)
        anchors = rng.choice(n, size=n_queries, replace=False)
        q = X[anchors]
        truth = None
        exact_time = None
        for kind in kinds:
            if kind == "hnsw" and n > 200_000:
                continue  # HNSW build at 1M takes tens of minutes on 2 cores; IVF is the default
            with Timer() as tb:
                index = build_index(X, kind)
            build = tb.wall
            times, cpus = [], []
            for _ in range(repeats):
                with Timer() as tm:
                    ids, _ = index.search(q, k, exclude=anchors)
                times.append(tm.wall)
                cpus.append(tm.cpu)
            search = min(times)
            search_cpu = min(cpus)
            if kind == "exact":
                truth, exact_time = ids, search
            recall = float(np.mean([np.intersect1d(a, b).size / k for a, b in zip(ids, truth)]))
            if kind == "exact":
                exact_cpu = search_cpu
            rows.append({"n": n, "index": kind, "build_s": build, "build_cpu_s": tb.cpu,
                         "search_s": search, "search_cpu_s": search_cpu,
                         "cpu_vs_exact": search_cpu / exact_cpu,
                         "per_query_ms": 1000 * search / n_queries, "recall@50": recall,
                         "time_vs_exact": search / exact_time, "describe": index.describe()})
            print(table(rows[-1:], ["n", "index", "build_s", "build_cpu_s", "search_s",
                                    "search_cpu_s", "recall@50", "time_vs_exact"]),
                  flush=True)
            del index
        del X
    return rows


def crossover(sizes, n_anchors=20, k=50, repeats=7):
    """Exact vs IVF search time for one AnchorAL round (20 anchors, k = 50, 20 % of the pool
    excluded), CPU and wall medians: where ``index="auto"`` should switch."""
    rows = []
    for n in sizes:
        X, _, _ = make_pool(n, random_state=0)
        rng = np.random.default_rng(1)
        anchors = rng.choice(n, size=n_anchors, replace=False)
        mask = np.zeros(n, bool)
        mask[rng.choice(n, size=n // 5, replace=False)] = True
        mask[anchors] = True
        row = {"n": n}
        for kind in ("exact", "ivf"):
            with Timer() as tb:
                index = build_index(X, kind)
            cpu, wall = [], []
            for _ in range(repeats):
                with Timer() as tm:
                    index.search(X[anchors], k, exclude=mask)
                cpu.append(tm.cpu)
                wall.append(tm.wall)
            row.update({f"{kind}_cpu_ms": 1e3 * float(np.median(cpu)),
                        f"{kind}_wall_ms": 1e3 * float(np.median(wall)),
                        f"{kind}_build_cpu_s": tb.cpu, f"{kind}_describe": index.describe()})
        row["faster"] = "exact" if row["exact_cpu_ms"] <= row["ivf_cpu_ms"] else "ivf"
        rows.append(row)
        print(table(rows[-1:], CROSS_COLS), flush=True)
    return rows


CROSS_COLS = ["n", "exact_cpu_ms", "ivf_cpu_ms", "exact_wall_ms", "ivf_wall_ms", "ivf_build_cpu_s",
              "faster", "ivf_describe"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k and 100k only")
    ap.add_argument("--sizes", type=int, nargs="+")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--crossover", action="store_true",
                    help="exact vs IVF for one round's 20 anchors at 2k..100k rows")
    args = ap.parse_args(argv)
    threads = limit_threads(args.threads)
    if args.crossover:
        rows = crossover(args.sizes or [2_000, 5_000, 10_000, 20_000, 50_000, 100_000])
        print(table(rows, CROSS_COLS))
        print(f"saved {save('index_crossover', {'k': 50, 'n_anchors': 20, **threads, 'rows': rows})}")
        return
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [100_000, 1_000_000])
    rows = run(sizes, ["exact", "ivf", "hnsw"])
    print()
    print(table(rows, ["n", "index", "build_s", "build_cpu_s", "search_s", "search_cpu_s",
                       "per_query_ms", "recall@50", "time_vs_exact", "cpu_vs_exact"]))
    path = save("index" + ("_quick" if args.quick else ""),
                {"k": 50, "n_queries": 200, **threads, "rows": rows})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
