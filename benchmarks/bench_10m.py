"""The 10M-row synthetic pool end to end: cache build per step (wall, CPU, peak RSS), recall.

    python benchmarks/bench_10m.py build [--n 10000000] [--cache-dir DIR]   # every step, cached
    python benchmarks/bench_10m.py recall [--n N] [--cache-dir DIR]         # IVF-PQ vs exact
    python benchmarks/bench_10m.py rounds [--n N] [--cache-dir DIR]         # per-round times
    python benchmarks/bench_10m.py serve --screenshot docs/img/map-10m.png  # the app in Chromium

``build`` runs each step of ``anchoral serve synthetic:N``'s cache in its own process, so that
each step's peak resident memory (``VmHWM``, memory-mapped pages it touched included) is its
own: ``generate`` (float16 vectors written block by block), ``index`` (IVF-PQ trained on a
sample, rows added block by block, ``nprobe`` calibrated), ``layout`` (UMAP fitted on 50,000
rows, the rest placed through their nearest fitted rows, quality against UMAP's ``transform``
on 5,000 rows), ``recall`` (200 new queries, IVF-PQ against exact blocked search over the
memory map) and ``load`` (what a server start does with everything cached). A step whose
files exist is read, not recomputed (its row says so). Results go to
``benchmarks/results/scale_10m_build.json`` (``--n`` other than 10M: ``scale_10m_build_<n>``).

``rounds`` times AnchorAL+entropy and AnchorAL+BADGE (1 warm-up, 3 timed rounds, LR head, the
engine's defaults), one full-pool entropy round over the 10M pool and one full-pool BADGE round
over its first 10 % (a 1M pool of its own), scaled x10: ``scale_10m_rounds.json``. ``serve``
starts ``anchoral serve synthetic:N --filters anchoral`` (entropy, then BADGE) and measures it
in Chromium as ``bench_scale_app.py`` does at 1M: ``scale_10m_serve.json``. Every step reports
its wall and CPU seconds, its peak RSS and the load average (a shared 2-core box).
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
#: timed rounds, each in its own process after the build: AnchorAL (entropy, BADGE) on the
#: 10M pool, full-pool entropy on the 10M pool, full-pool BADGE on a 10 % slice (scaled x10)
ROUNDS = ("anchoral_entropy", "anchoral_badge", "full_entropy", "full_badge_slice")


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
        # a layout started on its own (``bench_10m.py layout``, in parallel with the index
        # step) holds this marker: wait for it, then read its result instead of computing again
        marker = _cache(n, cache_dir) / "layout.running"
        waited = time.perf_counter()
        while marker.exists() and os.environ.get("BENCH_10M_LAYOUT_OWNER") != "1":
            time.sleep(10)
        row["waited_for_parallel_layout_s"] = time.perf_counter() - waited
        if os.environ.get("BENCH_10M_LAYOUT_OWNER") == "1":
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        try:  # what synthetic_prepared runs for the layout, without the index
            from explorer.projection import project
            from explorer.ui.synthetic import LARGE, LARGE_LAYOUT, layout_path

            X, _, _ = _pool(n, cache_dir)
            path = layout_path(_cache(n, cache_dir), n, 0)
            row["coords_source"] = "UMAP (cache)" if path.exists() else "UMAP (computed)"
            t = time.perf_counter()
            project(X, random_state=0, cache_path=path, show_progress=False,
                    **(LARGE_LAYOUT if n > LARGE else {}))
            row["seconds"] = time.perf_counter() - t
        finally:
            if os.environ.get("BENCH_10M_LAYOUT_OWNER") == "1":
                marker.unlink()
        report = path.with_name(path.name + ".json")
        if report.exists():
            row["quality"] = json.loads(report.read_text())
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
    elif name in ROUNDS:
        row.update(time_rounds(name, n, cache_dir))
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


def time_rounds(name, n, cache_dir, warmup=1, rounds=3):
    """Median per-round times of one run (LR head, the engine's defaults) on the cached pool.

    ``full_badge_slice`` runs full-pool BADGE on the first 10 % of the rows (a pool of its own)
    and reports its time x10 as the projection for the whole pool (BADGE's k-means++ over the
    candidates is linear in their number at a fixed batch size).
    """
    import statistics

    import numpy as np

    from explorer.experiment import Experiment
    from explorer.ui.synthetic import synthetic_prepared

    filt, strat = {"anchoral_entropy": ("anchoral", "entropy"),
                   "anchoral_badge": ("anchoral", "badge"),
                   "full_entropy": ("full", "entropy"),
                   "full_badge_slice": ("full", "badge")}[name]
    p = synthetic_prepared(n, cache_dir=cache_dir, projection="generated")
    scale = 1.0
    if name == "full_badge_slice":
        import dataclasses

        from explorer.data import Dataset

        m = n // 10
        ds = p.dataset
        from explorer.ui.synthetic import SyntheticTexts

        sub = Dataset(texts=SyntheticTexts(ds.y[:m]), y=ds.y[:m], classes=ds.classes, minority=ds.minority,
                      minority_inferred=False, name=f"{ds.name}-first-{m}",
                      content_hash=ds.content_hash + f"-{m}", source=ds.source)
        p = dataclasses.replace(p, dataset=sub, embeddings=p.embeddings[:m],
                                coords=p.coords[:m], index=None)
        scale = n / m
    if name.startswith("full"):
        rounds, warmup = 1, 0  # one round is the measurement (minutes at 10M for BADGE)
    exp = Experiment(p, [(filt, strat)], model="lr", seed=0)
    run = exp.runs[0]
    t0 = time.perf_counter()
    exp.start()
    t_start = time.perf_counter() - t0
    for _ in range(warmup):
        run.step()
    rec = {"wall_propose": [], "cpu_propose": [], "t_retrieval": [], "t_scoring": [],
           "t_selection": [], "t_train": [], "t_eval": [], "subpool": []}
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        sel = run.propose()
        rec["wall_propose"].append(time.perf_counter() - w)
        rec["cpu_propose"].append(time.process_time() - c)
        r = run.commit()
        for k in ("t_retrieval", "t_scoring", "t_selection", "t_train", "t_eval"):
            rec[k].append(float(getattr(r, k, float("nan"))))
        rec["subpool"].append(int(len(sel.subpool)))
    out = {k: statistics.median(v) for k, v in rec.items()}
    out["all_wall_propose"] = rec["wall_propose"]
    out["run"] = f"{filt}+{strat}"
    out["pool_rows"] = int(len(p.embeddings))
    out["candidates"] = int(len(exp.train_ids)) - 100
    out["t_start"] = t_start
    out["index"] = p.index.describe() if p.index is not None else None
    if scale != 1.0:
        out["scaled_x"] = scale
        out["projected_wall_propose_full_pool"] = out["wall_propose"] * scale
        out["projected_cpu_propose_full_pool"] = out["cpu_propose"] * scale
    return out


def serve(n, cache_dir, strategy="entropy", n_steps=3, screenshot=None, large_from=None,
          layout="umap", profile_dir=None):
    """``anchoral serve synthetic:N`` on the cached pool in Chromium: start, first page, wheel
    zoom and drag, Steps (AnchorAL alone: the full pool is refused live at 10M), server CPU per
    action and per Step, the server's peak RSS (``VmHWM``); a screenshot of the map with the
    last round's overlays when ``screenshot`` names a file; with ``profile_dir``, a ``py-spy
    record`` of the server across each Step (collapsed stacks, ``<strategy>-step<i>.txt``)."""
    from bench_app import peak_rss_mib
    from bench_scale_app import ACTIONS, _cpu_seconds, _start
    from measure_app import browser, open_map, pan_zoom_times, step_time
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=600_000)

    def cmd(port):  # the CLI's own serve, through _serve only to apply --large-from/--layout
        return [sys.executable, __file__, "_serve", *(["--large-from", str(large_from)]
                                                      if large_from else []),
                *(["--generated-layout"] if layout == "generated" else []),
                "--", "serve", f"synthetic:{n}", "--embeddings-dtype", "float16", "--cache-dir", str(cache_dir), "--filters",
                "anchoral", "--strategy", strategy, "--port", str(port), "--address",
                "127.0.0.1"]

    load0 = os.getloadavg()[0]
    proc, url, t_server = _start(cmd)
    rss_listening = peak_rss_mib(proc.pid)
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1500, "height": 1300})
            page.set_default_timeout(600_000)
            first = open_map(page, url)
            steps, step_cpu = [], []
            for i in range(n_steps):  # the first one builds the experiment (round-0 training)
                spy = _py_spy(proc.pid, profile_dir, f"{strategy}-step{i + 1}.txt")
                c0 = _cpu_seconds(proc.pid)
                steps.append(step_time(page, i + 1))
                step_cpu.append(_cpu_seconds(proc.pid) - c0)
                _stop(spy)
            if screenshot:  # the whole map with the last round's overlays
                page.wait_for_timeout(2000)
                page.locator(".anchoral-map").first.screenshot(path=str(screenshot))
            cpu0 = _cpu_seconds(proc.pid)
            times = pan_zoom_times(page, ACTIONS)
            cpu_pz = (_cpu_seconds(proc.pid) - cpu0) / len(ACTIONS)
            b.close()
        mem = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
    wheel = [t for (a, _), t in zip(ACTIONS, times) if a == "wheel"]
    drag = [t for (a, _), t in zip(ACTIONS, times) if a == "drag"]
    import statistics

    return {"strategy": strategy, "layout": layout, "server_start_to_listening_s": t_server,
            "rss_when_listening_mib": rss_listening.get("VmRSS"),
            "first_page_to_map_drawn_s": first, "wheel_zoom_median_s": statistics.median(wheel),
            "wheel_zoom_all_s": wheel, "drag_median_s": statistics.median(drag),
            "drag_all_s": drag, "server_cpu_per_pan_zoom_s": cpu_pz,
            "step_click_to_overlays_s": steps,
            "step_server_cpu_s": step_cpu, "server_vmhwm_mib": mem.get("VmHWM"),
            "server_vmrss_end_mib": mem.get("VmRSS"), "loadavg_1_before": load0}


def _py_spy(pid, profile_dir, name):
    """``py-spy record`` of ``pid`` (250 Hz, not pausing it) into ``profile_dir/name``, or None."""
    if not profile_dir:
        return None
    import shutil

    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    Path(profile_dir).mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen([exe, "record", "-p", str(pid), "-r", "250", "-f", "raw", "--nonblocking",
                            "-o", str(Path(profile_dir) / name)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # attached before the click
    return spy


def _stop(spy):
    if spy is not None:
        import signal

        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        spy.wait(60)


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


def _serve(argv):
    """``_serve [--large-from N] -- ARGS``: ``anchoral ARGS`` in this process, with pools above N
    rows treated as large (to try the large path on a small pool)."""
    split = argv.index("--")
    own, cli_args = argv[:split], argv[split + 1:]
    if "--large-from" in own:
        import explorer.index
        import explorer.ui.synthetic

        large = int(own[own.index("--large-from") + 1])
        explorer.ui.synthetic.LARGE = explorer.index.AUTO_COMPRESSED_MIN = large
    if "--generated-layout" in own:  # the generator's 2-D layout (the UMAP one not cached yet)
        import functools

        import explorer.ui.synthetic

        explorer.ui.synthetic.synthetic_prepared = functools.partial(
            explorer.ui.synthetic.synthetic_prepared, projection="generated")
    from explorer.cli import main as cli

    return cli(cli_args)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["_serve"]:
        return _serve(argv[1:])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("build", "rounds", "serve", "_step", *STEPS, *ROUNDS))
    ap.add_argument("--screenshot", default=None, help="serve: PNG of the map after the Steps")
    ap.add_argument("--layout", default="umap", choices=("umap", "generated"),
                    help="serve: the cached UMAP layout, or the generator's (no UMAP)")
    ap.add_argument("--steps", type=int, default=3,
                    help="serve: Steps per strategy (the first builds the experiment)")
    ap.add_argument("--profile-dir", default=None,
                    help="serve: py-spy (pip install py-spy) records the server across each Step here")
    ap.add_argument("name", nargs="?")
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--cache-dir", default="/work/cache-tenm")
    ap.add_argument("--large-from", type=int, default=None,
                    help="treat pools above this many rows as large (to try the path on a "
                         "small pool)")
    args = ap.parse_args(argv)
    if args.what == "serve":
        sys.path.insert(0, str(ROOT / "tests" / "ui"))
        rows = [serve(args.n, args.cache_dir, strategy, n_steps=args.steps,
                      screenshot=args.screenshot
                      if strategy == "entropy" else None, large_from=args.large_from,
                      layout=args.layout, profile_dir=args.profile_dir)
                for strategy in ("entropy", "badge")]
        for r in rows:
            print(json.dumps(r, default=str))
        suffix = "" if args.n == 10_000_000 else f"_{args.n}"
        print(f"saved {save('scale_10m_serve' + suffix, {'n': args.n, 'rows': rows})}")
        return
    if args.what == "_step":
        print(json.dumps(step(args.name, args.n, args.cache_dir, args.large_from), default=str))
        return
    steps = {"build": STEPS, "rounds": ROUNDS}.get(args.what, (args.what,))
    t0 = time.perf_counter()
    rows = build(args.n, args.cache_dir, steps, args.large_from)
    total = time.perf_counter() - t0
    print(table(rows, ["step", "wall_s", "cpu_s", "vmhwm_mib", "loadavg_1"]))
    suffix = "" if args.n == 10_000_000 else f"_{args.n}"
    name = "scale_10m_build" if args.what == "build" else f"scale_10m_{args.what}"
    path = save(name + suffix, {"n": args.n, "cache_dir": str(args.cache_dir), "rows": rows,
                                "total_wall_s": total,
                                "command": "python benchmarks/bench_10m.py " + " ".join(argv)})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
