"""Server time of one neighbour search (``explorer.neighbours``) with the pool's cached index.

    python benchmarks/bench_neighbours.py                  # synthetic 100k and 1M x 384
    python benchmarks/bench_neighbours.py --sizes 100000   # one size
    python benchmarks/bench_neighbours.py --quick          # 10k and 100k
    python benchmarks/bench_neighbours.py --index exact --tag _exact   # exact search instead

For each size: a synthetic pool (``explorer.ui.synthetic.synthetic_prepared``: 384-d vectors,
the generator's own 2-D layout; the search never reads the map) is generated into a cache and
its index built and saved (``index="auto"``: IVF above 7,500 rows); then the pool is opened
again, as a server does, with the index **read from the cache**, and ``neighbours(prepared, row,
k)`` is timed for ``--queries`` random rows (a click on the map). A typed text adds one encoding
of the text by the offline all-MiniLM-L6-v2 (warm model), timed on the shipped sample's encoder;
the text's search costs the same as a row's (one vector, one index search). One thread
(``--threads``); wall and CPU time side by side.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Timer, limit_threads, save, table  # noqa: E402

from explorer.neighbours import neighbours  # noqa: E402
from explorer.ui.synthetic import synthetic_prepared  # noqa: E402

TEXTS = ("Congratulations, you have won a free prize: click here to claim it",
         "Can we move the project meeting to Thursday afternoon?",
         "Your invoice for last month is attached; payment is due in 30 days.")


def encode_cost(repeats=5):
    """Median (wall, cpu) seconds to encode one short text with the warm offline encoder."""
    from explorer.embed import SentenceEncoder

    enc = SentenceEncoder()
    enc.encode(["warm up"])
    walls, cpus = [], []
    for i in range(repeats):
        with Timer() as t:
            enc.encode([TEXTS[i % len(TEXTS)]])
        walls.append(t.wall)
        cpus.append(t.cpu)
    return statistics.median(walls), statistics.median(cpus)


def run(sizes, k=20, n_queries=20, cache_dir=None, index="auto"):
    rows = []
    for n in sizes:
        with Timer() as tb:
            synthetic_prepared(n, index=index, projection="generated", cache_dir=cache_dir)
        with Timer() as tl:  # as a server opens it: vectors memory-mapped, index from the cache
            p = synthetic_prepared(n, index=index, projection="generated", cache_dir=cache_dir)
        rng = np.random.default_rng(0)
        queries = rng.choice(n, size=n_queries, replace=False)
        neighbours(p, int(queries[0]), k=k)  # first touch of the memory-mapped pages
        walls, cpus = [], []
        for q in queries:
            with Timer() as t:
                res = neighbours(p, int(q), k=k)
            assert len(res) == k and int(q) not in res.ids
            walls.append(t.wall)
            cpus.append(t.cpu)
        rows.append({"n": n, "index": p.index.describe(), "index_source": p.sources.get("index",
                     getattr(p.index, "source_", "")),
                     "first_build_s": tb.wall, "open_cached_s": tl.wall,
                     "search_median_s": statistics.median(walls), "search_max_s": max(walls),
                     "search_cpu_median_s": statistics.median(cpus), "k": k,
                     "queries": n_queries})
        print(table(rows[-1:], ["n", "first_build_s", "open_cached_s", "search_median_s",
                                "search_max_s", "search_cpu_median_s"]), flush=True)
        print("  ", rows[-1]["index"], "/", rows[-1]["index_source"], flush=True)
        del p
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("-k", type=int, default=20)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--index", default="auto")
    ap.add_argument("--cache-dir", default=None,
                    help="where the synthetic pools and their indexes are cached (default: a "
                    "temporary directory, removed at the end)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    args = ap.parse_args(argv)
    threads = limit_threads(args.threads)
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [100_000, 1_000_000])
    enc_wall, enc_cpu = encode_cost()
    print(f"encode one text (warm MiniLM): {enc_wall * 1000:.1f} ms wall, "
          f"{enc_cpu * 1000:.1f} ms CPU", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(sizes, k=args.k, n_queries=args.queries, cache_dir=args.cache_dir or tmp,
                   index=args.index)
    for r in rows:
        r["text_search_median_s"] = r["search_median_s"] + enc_wall
    print(table(rows, ["n", "search_median_s", "search_max_s", "search_cpu_median_s",
                       "text_search_median_s"]))
    path = save(f"neighbours{args.tag}", {"rows": rows, "encode_one_text_s": enc_wall,
                               "encode_one_text_cpu_s": enc_cpu, **threads})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
