"""Embedding throughput: plain SentenceTransformer.encode vs the project's encoder (float32, int8).

    python benchmarks/bench_embed.py            # 1,000 sample e-mails + 5,000 Brown sentences, 2 repeats
    python benchmarks/bench_embed.py --quick    # 200 e-mails + 1,000 sentences, 1 repeat
    python benchmarks/bench_embed.py --compare-threads 1,2   # torch threads: 3,000 WordNet texts, 3 repeats

Three ways to embed the same texts, interleaved and repeated (the best repeat is kept):

* ``plain``   ``SentenceTransformer(path).encode(texts, batch_size=64, normalize_embeddings=True)``
* ``project`` ``explorer.embed.SentenceEncoder().encode(texts)`` (length-sorted chunks, float32)
* ``int8``    ``SentenceEncoder(quantize="int8")``: dynamic int8 Linear layers (per-channel)

Texts/s are given on wall time (``time.perf_counter``) and on CPU time (``time.process_time``): on
a shared machine the wall time also counts waiting for a core. Effect on retrieval: the int8
vectors of the whole text set are searched exactly (top-50 by cosine, 200 queries, the query itself
excluded) and compared with the float32 neighbours (recall@50), plus the cosine between the float32
and int8 vector of each text.

``--compare-threads 1,2`` measures something else: the project's encoder (float32) on one fixed
slice of texts (``--threads-data``, default 3,000 random WordNet glosses: ``anchoral fetch wordnet``
first) with each thread count in turn, alternating the order every repeat (1,2 then 2,1 ...), and
reports the min and median wall and CPU seconds per setting (``results/embed_threads.json``): what
the CLI's thread default costs or gains for ``anchoral prepare``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timer, limit_threads, save, table  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_texts(name, n, seed=0):
    from explorer.data import load_dataset

    ds = load_dataset(name)
    rng = np.random.default_rng(seed)
    pick = rng.choice(ds.n, size=min(n, ds.n), replace=False)
    return [str(t) for t in ds.texts[pick]]


def recall_at_k(A, B, k=50, n_queries=200, seed=0):
    """Mean overlap of the exact top-k (cosine) of B's neighbours with A's, same queries."""
    rng = np.random.default_rng(seed)
    q = rng.choice(len(A), size=min(n_queries, len(A)), replace=False)
    out = []
    for X in (A, B):
        S = X[q] @ X.T
        S[np.arange(len(q)), q] = -np.inf  # the query itself is not its neighbour
        out.append(np.argpartition(-S, k, axis=1)[:, :k])
    return float(np.mean([np.intersect1d(a, b).size / k for a, b in zip(*out)]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: stable on a shared machine)")
    ap.add_argument("--compare-threads", metavar="N,M", default=None,
                    help="instead: time the float32 encoder on one slice of texts with each "
                    "of these thread counts, alternating (e.g. 1,2)")
    ap.add_argument("--threads-data", metavar="NAME:N", default="wordnet:3000",
                    help="--compare-threads: dataset and number of random texts")
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    args = ap.parse_args(argv)
    if args.compare_threads:
        return compare_threads(args)
    import torch  # noqa: F401 - so limit_threads sets torch's threads too
    from sentence_transformers import SentenceTransformer

    from explorer.embed import SentenceEncoder, default_model_path

    threads = limit_threads(args.threads)
    repeats = args.repeats or (1 if args.quick else 2)
    sets = {"sample": load_texts("sample", 200 if args.quick else 1000),
            "brown": load_texts("brown", 1000 if args.quick else 5000)}
    plain = SentenceTransformer(default_model_path(), device="cpu")
    project = SentenceEncoder(device="cpu")
    int8 = SentenceEncoder(device="cpu", quantize="int8")
    methods = {
        "plain": lambda t: plain.encode(t, batch_size=64, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False),
        "project": project.encode,
        "int8": int8.encode,
    }
    for f in methods.values():  # load models, warm up kernels
        f(["warm up the encoder", "a second, slightly longer warm-up sentence for padding"])
    rows, effect = [], {}
    for name, texts in sets.items():
        best = {m: None for m in methods}
        vecs = {}
        for _ in range(repeats):
            for m, f in methods.items():
                with Timer() as tm:
                    vecs[m] = np.asarray(f(texts), np.float32)
                if best[m] is None or tm.wall < best[m].wall:
                    best[m] = tm
        base_wall, base_cpu = len(texts) / best["plain"].wall, len(texts) / best["plain"].cpu
        for m in methods:
            wall, cpu = len(texts) / best[m].wall, len(texts) / best[m].cpu
            rows.append({"texts": name, "n": len(texts),
                         "mean_chars": float(np.mean([len(t) for t in texts])), "method": m,
                         "wall_s": best[m].wall, "cpu_s": best[m].cpu, "texts_per_s_wall": wall,
                         "texts_per_s_cpu": cpu, "speedup_wall": wall / base_wall,
                         "speedup_cpu": cpu / base_cpu})
            print(table(rows[-1:], COLS), flush=True)
        cos = np.sum(vecs["project"] * vecs["int8"], axis=1)
        effect[name] = {
            "project_vs_plain_max_abs_diff": float(np.abs(vecs["project"] - vecs["plain"]).max()),
            "int8_cos_mean": float(cos.mean()), "int8_cos_min": float(cos.min()),
            "int8_recall@50": recall_at_k(vecs["project"], vecs["int8"]),
        }
        print(name, effect[name], flush=True)
    print()
    print(table(rows, COLS))
    print()
    for name, e in effect.items():
        print(f"{name}: int8 vs float32 recall@50 {e['int8_recall@50']:.3f}, cosine mean "
              f"{e['int8_cos_mean']:.4f} (min {e['int8_cos_min']:.4f})")
    path = save("embed" + ("_quick" if args.quick else ""),
                {**threads, "repeats": repeats, "rows": rows, "retrieval_effect": effect,
                 "torch_quantized_engines": list(torch.backends.quantized.supported_engines)})
    print(f"\nsaved {path}")


def compare_threads(args):
    """Embed one slice of texts with each thread count, alternating; min / median per count."""
    import torch  # noqa: F401 - so threads.limit sets torch's threads too

    from explorer import threads
    from explorer.embed import SentenceEncoder

    counts = [int(c) for c in args.compare_threads.split(",") if c.strip()]
    repeats = args.repeats or (1 if args.quick else 3)
    name, _, n = args.threads_data.partition(":")
    texts = load_texts(name, int(n or 3000) if not args.quick else 300)
    encoder = SentenceEncoder(device="cpu")
    encoder.encode(["warm up the encoder", "a second, slightly longer warm-up sentence"])
    runs = []
    for r in range(repeats):
        for c in (counts if r % 2 == 0 else counts[::-1]):  # alternate who goes first
            load_before = os.getloadavg()[0]
            with threads.limit(c), Timer() as tm:
                encoder.encode(texts)
            runs.append({"repeat": r, "threads": c, "wall_s": tm.wall, "cpu_s": tm.cpu,
                         "loadavg_1min_before": round(load_before, 2),
                         "loadavg_1min_after": round(os.getloadavg()[0], 2)})
            print(table(runs[-1:], list(runs[-1])), flush=True)
    rows = []
    for c in counts:
        mine = [x for x in runs if x["threads"] == c]
        wall = [x["wall_s"] for x in mine]
        cpu = [x["cpu_s"] for x in mine]
        rows.append({"threads": c, "n": len(texts), "repeats": len(mine),
                     "wall_min_s": min(wall), "wall_median_s": statistics.median(wall),
                     "cpu_min_s": min(cpu), "cpu_median_s": statistics.median(cpu),
                     "texts_per_s_wall_median": len(texts) / statistics.median(wall)})
    base = rows[0]["wall_median_s"]
    for row in rows:
        row["speedup_wall_median"] = base / row["wall_median_s"]
    print()
    print(table(rows, list(rows[0])))
    path = save("embed_threads" + ("_quick" if args.quick else "") + args.tag,
                {"texts": name, "n": len(texts),
                 "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")},
                 "mean_chars": float(np.mean([len(t) for t in texts])),
                 "rows": rows, "runs": runs})
    print(f"\nsaved {path}")


COLS = ["texts", "n", "method", "wall_s", "cpu_s", "texts_per_s_wall", "texts_per_s_cpu",
        "speedup_wall", "speedup_cpu"]

if __name__ == "__main__":
    main()
