"""The app's 1M x 384 synthetic pool: build time, server peak memory, pan/zoom in Chromium.

    python benchmarks/bench_scale_app.py build [--n N] [--dtype float16]   # generate + UMAP, cached
    python benchmarks/bench_scale_app.py serve [--n N] [--dtype float16]   # RSS + pan/zoom
    python benchmarks/bench_scale_app.py all                               # both, one JSON

``build`` runs :func:`explorer.ui.synthetic.synthetic_prepared` into the shared cache (the same
files ``anchoral serve synthetic:N`` memory-maps later) and times each step: generation of the
vectors, the index, UMAP (fit on a 20,000-row sample, ``transform`` of the rest in chunks).
``serve`` starts ``anchoral serve synthetic:N`` in a subprocess (as a user would) once the cache
exists, times page load, pan/zoom (every datashader image replaced, real Chromium) and a Step,
and reads the server's peak resident memory (``VmHWM``, memory-mapped pages it touched included).
``benchmarks/bench_scale.py`` calls :func:`run` for its 1M section.
Results go to ``benchmarks/results/scale_app.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "ui"))
from common import limit_threads, save, table  # noqa: E402

ACTIONS = [("wheel", -400), ("wheel", -400), ("drag", 150), ("wheel", 400), ("drag", -150),
           ("wheel", -300), ("drag", 100), ("wheel", 300), ("drag", -120), ("wheel", -200)]


def build(n=1_000_000, dtype="float32", index="exact"):
    """Generate (or read) the cached pool and its UMAP; return a result row per step."""
    import resource

    from explorer.prepare import default_cache_dir
    from explorer.ui.synthetic import synthetic_prepared

    limit_threads(1)
    t0 = time.perf_counter()
    p = synthetic_prepared(n, cache_dir=default_cache_dir(), embeddings_dtype=dtype,
                           index=index, progress=True)
    total = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pool = f"synthetic-{n}x384-{dtype}"
    rows = [{"pool": pool, "what": f"build: {step} ({p.sources.get('coords' if step == 'project' else 'embeddings', '')})"
             if step in ("generate", "project") else f"build: {step} ({index})", "seconds": s}
            for step, s in p.timings.items()]
    rows += [{"pool": pool, "what": "build: total", "seconds": total},
             {"pool": pool, "what": "build: peak RSS (MiB)", "mib": peak}]
    return rows


def serve_measure(n=1_000_000, dtype="float32", index="exact", screenshot=None):
    """Serve the cached pool; time page load, pan/zoom and a Step; read the server's VmHWM."""
    from bench_app import peak_rss_mib
    from measure_app import browser, open_map, pan_zoom_times, serve, step_time
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=600_000)
    args = [f"synthetic:{n}", "--index", index, "--embeddings-dtype", dtype]
    proc, url, t_server = serve(*args)
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1500, "height": 1300})
            first = open_map(page, url)
            times = pan_zoom_times(page, ACTIONS)
            if screenshot:
                page.wait_for_timeout(1000)
                page.locator(".anchoral-map").first.screenshot(path=str(screenshot))
            step = step_time(page, 1)
            b.close()
        mem = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(20)
    pool = f"synthetic-{n}x384-{dtype}"
    return [
        {"pool": pool, "what": "server start -> listening (cached pool)", "seconds": t_server},
        {"pool": pool, "what": "first page load -> map drawn", "seconds": first},
        {"pool": pool, "what": f"pan/zoom -> re-rasterised map (median of {len(times)})",
         "seconds": statistics.median(times), "all": times},
        {"pool": pool, "what": "pan/zoom (max)", "seconds": max(times)},
        {"pool": pool, "what": "one Step (incl. round-0 training)", "seconds": step},
        {"pool": pool, "what": "server peak RSS (MiB)", "mib": mem.get("VmHWM")},
    ]


def run(n=1_000_000, dtype="float32", index="exact", steps=("build", "serve")):
    """The 1M section for ``bench_scale.py``: rows of ``{"pool", "what", "seconds"|"mib"}``."""
    rows = []
    if "build" in steps:
        rows += build(n, dtype, index)
    if "serve" in steps:
        rows += serve_measure(n, dtype, index)
    for r in rows:
        r["loadavg"] = round(os.getloadavg()[0], 2)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=("build", "serve", "all"))
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float16"))
    ap.add_argument("--index", default="exact")
    ap.add_argument("--name", default="scale_app", help="results/NAME.json")
    args = ap.parse_args(argv)
    steps = ("build", "serve") if args.step == "all" else (args.step,)
    rows = run(args.n, args.dtype, args.index, steps)
    print(table(rows, ["pool", "what", "seconds", "mib", "loadavg"]))
    print(f"\nsaved {save(args.name, {'rows': rows})}")


if __name__ == "__main__":
    main()
