"""The app's 1M x 384 synthetic pool: build time, server peak memory, pan/zoom in Chromium.

    python benchmarks/bench_scale_app.py build [--n N] [--dtype float16]   # generate + UMAP, cached
    python benchmarks/bench_scale_app.py serve [--n N] [--dtype float16]   # RSS + pan/zoom
    python benchmarks/bench_scale_app.py recall                            # float16 vs float32
    python benchmarks/bench_scale_app.py raster                            # map CPU, old vs new
    python benchmarks/bench_scale_app.py all                               # all three, one JSON

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


def action_fields(times, actions=ACTIONS):
    """Which action each time in ``all`` is (``actions``: ``[kind, pixels]`` in order) and the
    median per kind, e.g. ``{"actions": [["wheel", -400], ...], "wheel_median": ...,
    "wheel_n": 6, "drag_median": ..., "drag_n": 4}``."""
    out = {"actions": [list(a) for a in actions]}
    for kind in sorted({k for k, _ in actions}):
        mine = [t for t, (k, _) in zip(times, actions) if k == kind]
        out[f"{kind}_n"] = len(mine)
        out[f"{kind}_median"] = statistics.median(mine) if mine else None
    return out


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
    source = {"generate": p.sources.get("embeddings"), "index": index,
              "project": p.sources.get("coords")}
    rows = [{"pool": pool, "what": f"build: {step} ({source.get(step)})", "seconds": s}
            for step, s in p.timings.items()]
    rows += [{"pool": pool, "what": "build: total", "seconds": total},
             {"pool": pool, "what": "build: peak RSS (MiB)", "mib": peak}]
    return rows


def _serve_generated(n, dtype, index, port):
    """``anchoral serve synthetic:N`` with the generator's 2-D layout instead of UMAP's.

    The same process as the CLI's (cached vectors memory-mapped, index, app warmed up before it
    listens); only the coordinates differ, both an (n, 2) float32 array in memory. Used when the
    1M UMAP has not been computed on this machine yet.
    """
    import panel as pn

    from explorer.prepare import default_cache_dir
    from explorer.ui.app import ExplorerApp
    from explorer.ui.synthetic import synthetic_prepared

    source = f"synthetic:{n}"
    prepared = synthetic_prepared(n, cache_dir=default_cache_dir(), embeddings_dtype=dtype,
                                  index=index, projection="generated")
    pn.extension("tabulator", notifications=False, sizing_mode="stretch_width")

    def page():
        return ExplorerApp(prepared, datasets=[source], dataset=source).template()

    server = pn.serve(page, port=port, address="127.0.0.1", show=False, start=False, warm=True,
                      title="AnchorAL Explorer")
    server.start()
    server.io_loop.start()


def _start(cmd):
    """Start a server command on a free port; return (process, url, seconds until it answers)."""
    import subprocess
    import urllib.request

    from conftest import _free_port

    port = _free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cmd(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=5)
        except OSError as err:
            if getattr(err, "code", None) is not None:  # any HTTP answer: it listens
                break
            if proc.poll() is not None or time.perf_counter() - t0 > 1800:
                raise RuntimeError("the server did not start") from err
            time.sleep(0.2)
            continue
        break
    return proc, f"http://127.0.0.1:{port}/", time.perf_counter() - t0


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_measure(n=1_000_000, dtype="float32", index="exact", layout="umap", screenshot=None):
    """Serve the cached pool; time page load, pan/zoom and a Step; read the server's VmHWM.

    ``layout="umap"`` runs ``anchoral serve synthetic:N`` (the UMAP coordinates must be cached,
    see :func:`build`); ``"generated"`` the same app on the generator's layout.
    """
    from bench_app import peak_rss_mib
    from measure_app import browser, open_map, pan_zoom_times, step_time
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=600_000)
    if layout == "umap":
        def cmd(port):
            return [sys.executable, "-m", "explorer.cli", "serve", f"synthetic:{n}", "--index",
                    index, "--embeddings-dtype", dtype, "--port", str(port), "--address",
                    "127.0.0.1"]
    else:
        def cmd(port):
            return [sys.executable, __file__, "_serve", "--n", str(n), "--dtype", dtype,
                    "--index", index, "--port", str(port)]
    proc, url, t_server = _start(cmd)
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1500, "height": 1300})
            page.set_default_timeout(600_000)
            first = open_map(page, url)
            if screenshot:
                page.wait_for_timeout(1500)
                page.locator(".anchoral-map").first.screenshot(path=f"{screenshot}-before.png")
            cpu0 = _cpu_seconds(proc.pid)
            times = pan_zoom_times(page, ACTIONS)
            cpu = (_cpu_seconds(proc.pid) - cpu0) / len(ACTIONS)
            if screenshot:
                page.wait_for_timeout(1500)
                page.locator(".anchoral-map").first.screenshot(path=f"{screenshot}-after.png")
            step = step_time(page, 1)
            b.close()
        mem = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(20)
    pool = f"synthetic-{n}x384-{dtype} ({layout} layout, {index} index)"
    return [
        {"pool": pool, "what": "server start -> listening (cached vectors)", "seconds": t_server},
        {"pool": pool, "what": "first page load -> map drawn", "seconds": first},
        {"pool": pool, "what": f"pan/zoom -> re-rasterised map (median of {len(times)})",
         "seconds": statistics.median(times), "all": times, **action_fields(times)},
        {"pool": pool, "what": "pan/zoom (max)", "seconds": max(times)},
        {"pool": pool, "what": "server CPU per pan/zoom (mean)", "seconds": cpu},
        {"pool": pool, "what": "one Step (incl. round-0 training)", "seconds": step},
        {"pool": pool, "what": "server peak RSS (MiB)", "mib": mem.get("VmHWM")},
    ]


def float16_recall(n=100_000, k=50, n_queries=200, random_state=0):
    """recall@k of exact search on float16-stored vectors against float32 (same queries).

    Synthetic 384-d pool of ``n`` rows, plus every real cached embedding matrix found in the
    cache (e.g. Brown's, once prepared). Queries are perturbed pool rows, as in the index
    calibration.
    """
    import numpy as np

    from explorer.prepare import default_cache_dir
    from explorer.synthetic import make_pool

    limit_threads(1)
    pools = [("synthetic", make_pool(n, dim=384, random_state=random_state)[0])]
    for path in sorted((default_cache_dir() / "embeddings").glob("*.npy")):
        X = np.load(path, mmap_mode="r")
        if not path.name.endswith("-float16.npy") and X.shape[0] >= 10_000:
            pools.append((path.stem[:40], X))
    rows = []
    rng = np.random.default_rng(random_state)
    for name, X32 in pools:
        X32 = np.asarray(X32, np.float32)
        X16 = X32.astype(np.float16).astype(np.float32)
        q = X32[rng.choice(len(X32), n_queries, replace=False)]
        q = q + rng.normal(scale=0.02, size=q.shape).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        s32, s16 = q @ X32.T, q @ X16.T
        top32 = np.argpartition(-s32, k, axis=1)[:, :k]
        top16 = np.argpartition(-s16, k, axis=1)[:, :k]
        recall = np.mean([np.intersect1d(a, b).size / k for a, b in zip(top32, top16)])
        rows.append({"pool": f"{name} ({len(X32):,} x {X32.shape[1]})",
                     "what": f"float16 vs float32 exact recall@{k} ({n_queries} queries)",
                     "value": float(recall),
                     "max |cos diff|": float(np.abs(s16 - s32).max())})
    return rows


def raster_cpu(n=1_000_000, width=1100, height=560, repeats=4):
    """CPU seconds per map view, old (two datashade layers through HoloViews) vs PoolRaster.

    Side by side in one process on the same points: the whole map and a zoomed-in view, at
    ``width`` x ``height`` pixels for both (PoolRaster without its pixel cap).
    """
    import datashader as ds
    import holoviews as hv
    import numpy as np
    import pandas as pd
    from holoviews.operation.datashader import datashade, dynspread

    from explorer.synthetic import make_pool
    from explorer.ui.raster import PoolRaster

    limit_threads(1)
    hv.extension("bokeh")
    _, y, xy = make_pool(n, dim=4, n_clusters=200, n_minority_clusters=4)
    names = ["common", "rare", "(unlabelled)"]
    colors = {"common": "#1f77b4", "rare": "#d62728", "(unlabelled)": "#8c8c8c"}
    new = PoolRaster(xy, y, names, colors, ["rare"])
    frame = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1],
                          "cls": pd.Categorical.from_codes(y, categories=names)})
    layers = [hv.Points(frame[y == v], kdims=["x", "y"], vdims=["cls"]) for v in (0, 1)]

    def old(x_range=None, y_range=None):
        for pts, spread in zip(layers, (2, 3)):
            img = datashade(pts, aggregator=ds.count_cat("cls"), color_key=colors,
                            min_alpha=180, dynamic=False, width=width, height=height,
                            x_range=x_range, y_range=y_range)
            dynspread(img, threshold=0.8, max_px=spread, dynamic=False)

    def cpu(f):
        f()
        t0 = time.process_time()
        for _ in range(repeats):
            f()
        return (time.process_time() - t0) / repeats

    zoom = ((-2, 2), (-2, 2))
    rows = []
    for view, args in (("whole map", (None, None)), ("zoomed in", zoom)):
        t_old = cpu(lambda: old(*args))
        t_new = cpu(lambda: new.image(*args, width, height))
        rows.append({"pool": f"{n:,} points", "what": f"raster CPU per view, {view}: old",
                     "seconds": t_old})
        rows.append({"pool": f"{n:,} points", "what": f"raster CPU per view, {view}: new",
                     "seconds": t_new, "value": t_old / t_new})
    return rows


def run(n=1_000_000, dtype="float32", index="exact", steps=("build", "serve"), layout="umap",
        screenshot=None):
    """The 1M section for ``bench_scale.py``: rows of ``{"pool", "what", "seconds"|"mib"}``."""
    rows = []
    if "build" in steps:
        rows += build(n, dtype, index)
    if "serve" in steps:
        rows += serve_measure(n, dtype, index, layout, screenshot)
    if "recall" in steps:
        rows += float16_recall()
    if "raster" in steps:
        rows += raster_cpu(n)
    for r in rows:
        r["loadavg"] = round(os.getloadavg()[0], 2)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=("build", "serve", "recall", "raster", "all", "_serve"))
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dtype", default="float32", choices=("float32", "float16"))
    ap.add_argument("--index", default="exact")
    ap.add_argument("--layout", default="umap", choices=("umap", "generated"),
                    help="serve: UMAP coordinates (cached by build) or the generator's layout")
    ap.add_argument("--screenshot", metavar="PREFIX", help="serve: PREFIX-before/after.png")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--name", default="scale_app", help="results/NAME.json")
    args = ap.parse_args(argv)
    if args.step == "_serve":
        return _serve_generated(args.n, args.dtype, args.index, args.port)
    steps = ("build", "serve", "recall", "raster") if args.step == "all" else (args.step,)
    rows = run(args.n, args.dtype, args.index, steps, args.layout, args.screenshot)
    print(table(rows, ["pool", "what", "seconds", "mib", "value", "max |cos diff|", "loadavg"]))
    print(f"\nsaved {save(args.name, {'rows': rows})}")


if __name__ == "__main__":
    main()
