"""The 10M-row synthetic pool end to end: cache build per step (wall, CPU, peak RSS), recall.

    python benchmarks/bench_10m.py build [--n 10000000] [--cache-dir DIR]   # every step, cached
    python benchmarks/bench_10m.py recall [--n N] [--cache-dir DIR]         # IVF-PQ vs exact

``build`` runs each step of ``anchoral serve synthetic:N``'s cache in its own process, so that
each step's peak resident memory (``VmHWM``, memory-mapped pages it touched included) is its
own: ``generate`` (float16 vectors written block by block), ``index`` (IVF-PQ trained on a
sample, rows added block by block, ``nprobe`` calibrated), ``layout`` (UMAP fitted on 50,000
rows, the rest placed through their nearest fitted rows, quality against UMAP's ``transform``
on 5,000 rows), ``recall`` (200 new queries, IVF-PQ against exact blocked search over the
memory map) and ``load`` (what a server start does with everything cached). A step whose
files exist is read, not recomputed (its row says so). Results go to
``benchmarks/results/scale_10m_build.json`` (``--n`` other than 10M: ``scale_10m_build_<n>``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import limit_threads, save, table  # noqa: E402

STEPS = ("generate", "index", "layout", "recall", "load")


def vm_hwm_mib() -> float:
    """This process's peak resident memory (``VmHWM``) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pool(n, cache_dir):
    from explorer.ui.synthetic import LARGE, _generate, synthetic_prepared  # noqa: F401

    return _generate(n, 384, 0.02, 0, "float16" if n > LARGE else "float32",
                     _cache(n, cache_dir))


def _cache(n, cache_dir):
    import hashlib

    key = hashlib.sha256(f"synthetic-{n}-384-0-0.02".encode()).hexdigest()[:16]
    return Path(cache_dir) / "synthetic" / key


def step(name, n, cache_dir, large_from=None):
    """Run one step in this process; return its row (wall, CPU, VmHWM, what it did)."""
    import numpy as np

    limit_threads(1)
    if large_from:  # try the large-pool path on a small pool (a test run of this script)
        import explorer.index
        import explorer.ui.synthetic

        explorer.ui.synthetic.LARGE = explorer.index.AUTO_COMPRESSED_MIN = int(large_from)
    wall, cpu = time.perf_counter(), time.process_time()
    row = {"step": name, "n": n}
    if name == "generate":
        emb = _cache(n, cache_dir)
        row["cached"] = any(emb.glob("embeddings-*.npy")) if emb.exists() else False
        X, _, _ = _pool(n, cache_dir)
        row["file_gib"] = X.nbytes / 2**30
    elif name == "index":
        from explorer.ui.synthetic import synthetic_prepared

        t = time.perf_counter()
        p = synthetic_prepared(n, cache_dir=cache_dir, projection="generated")
        row["index"] = p.index.explain()
        row["source"] = getattr(p.index, "source_", "")
        row["build_time"] = getattr(p.index, "build_time_", None)
        row["calibration"] = getattr(p.index, "calibration_", None)
        row["seconds_with_generate_read"] = time.perf_counter() - t
    elif name == "layout":
        from explorer.ui.synthetic import synthetic_prepared

        p = synthetic_prepared(n, cache_dir=cache_dir, progress=False)
        row["coords_source"] = p.sources["coords"]
        row["timings"] = p.timings
        report = sorted(p.cache_dir.glob("umap-*neighbours*.npy.json"))
        if report:
            row["quality"] = json.loads(report[-1].read_text())
    elif name == "recall":
        from explorer.exact import exact_knn
        from explorer.index import _recall
        from explorer.ui.synthetic import synthetic_prepared

        p = synthetic_prepared(n, cache_dir=cache_dir, projection="generated")
        X = p.embeddings
        rng = np.random.default_rng(12345)
        q = np.asarray(X[np.sort(rng.choice(n, 200, replace=False))], np.float32)
        q += rng.normal(scale=0.02, size=q.shape).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        t = time.perf_counter()
        _, truth = exact_knn(X, q, 50)
        row["exact_seconds_200_queries"] = time.perf_counter() - t
        t = time.perf_counter()
        ids, _ = p.index.search(q, 50)
        row["index_seconds_200_queries"] = time.perf_counter() - t
        row["recall_at_50"] = _recall(ids, truth)
        row["index"] = p.index.describe()
        # the codes alone (no exact reranking), to show what the reranking buys
        t = time.perf_counter()
        _, raw = p.index.index_.search(q, 50)
        row["codes_only_seconds_200_queries"] = time.perf_counter() - t
        row["codes_only_recall_at_50"] = _recall(raw, truth) if p.index.kind == "ivfpq" else None
    elif name == "load":
        from explorer.ui.synthetic import synthetic_prepared

        p = synthetic_prepared(n, cache_dir=cache_dir)
        row["sources"] = p.sources
        row["index"] = p.index.describe()
    row["wall_s"] = time.perf_counter() - wall
    row["cpu_s"] = time.process_time() - cpu
    row["vmhwm_mib"] = vm_hwm_mib()
    row["loadavg_1"] = os.getloadavg()[0]
    return row


def build(n, cache_dir, steps=STEPS, large_from=None):
    """Every step in its own process, in order; the rows."""
    rows = []
    for name in steps:
        print(f"[{time.strftime('%H:%M:%S')}] step {name} ...", flush=True)
        out = subprocess.run([sys.executable, __file__, "_step", name, "--n", str(n),
                              "--cache-dir", str(cache_dir),
                              *(["--large-from", str(large_from)] if large_from else [])],
                             cwd=ROOT, capture_output=True,
                             text=True)
        if out.returncode:
            print(out.stderr[-4000:], flush=True)
            rows.append({"step": name, "n": n, "error": out.stderr[-2000:]})
            break
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps(row, default=str)[:2000], flush=True)
        rows.append(row)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("build", "_step", *STEPS))
    ap.add_argument("name", nargs="?")
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--cache-dir", default="/work/cache-tenm")
    ap.add_argument("--large-from", type=int, default=None,
                    help="treat pools above this many rows as large (to try the path on a "
                         "small pool)")
    args = ap.parse_args(argv)
    if args.what == "_step":
        print(json.dumps(step(args.name, args.n, args.cache_dir, args.large_from), default=str))
        return
    steps = STEPS if args.what == "build" else (args.what,)
    t0 = time.perf_counter()
    rows = build(args.n, args.cache_dir, steps, args.large_from)
    total = time.perf_counter() - t0
    print(table(rows, ["step", "wall_s", "cpu_s", "vmhwm_mib", "loadavg_1"]))
    suffix = "" if args.n == 10_000_000 else f"_{args.n}"
    name = "scale_10m_build" if args.what == "build" else f"scale_10m_{args.what}"
    path = save(name + suffix, {"n": args.n, "cache_dir": str(args.cache_dir), "rows": rows,
                                "total_wall_s": total,
                                "command": "python benchmarks/bench_10m.py " +
                                " ".join(argv if argv is not None else sys.argv[1:])})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
