"""App latency in a real browser (Debian chromium via Playwright) and the server's peak memory.

    python benchmarks/bench_app.py            # sample (cold start, Step) + 1M synthetic (pan/zoom, Step, RSS)
    python benchmarks/bench_app.py --quick    # sample + a 100k synthetic pool
    python benchmarks/bench_app.py --concurrency 1,3,10,30   # a class opening one server at once

Every measurement starts ``anchoral serve DATA`` in a subprocess on a free port (as a user would)
and drives /usr/bin/chromium (never a downloaded browser) with the args of ``tests/ui/conftest.py``.

* cold start: process start -> listening (imports, pool loaded, app warmed), then page load -> map
  canvas has drawn pixels; and later sessions' page load -> map.
* Step: click -> "round k of k" shown and the queried overlay replaced by that round's rows
  (AnchorAL vs full pool, LR).

Before/after comparisons of the page's weight (models, stylesheets), open and Step wall and
CPU (browser from /proc of the Chromium processes, by kind, and server), replay, a class and the
1M map, each variant served from its own checkout: ``benchmarks/bench_light.py``.
* pan/zoom: mouse wheel / drag on the map -> every datashader image replaced in the page.
* peak RSS: the server process's ``VmHWM`` from ``/proc/PID/status`` after all of the above.
* concurrency (``--concurrency``): N browser contexts (separate people) open the sample at the
  same moment on a fresh server; time from that moment to each page's map drawn; then 5 of them
  press Step at once: click -> their round shown; the others must stay at round 0; peak RSS.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests" / "ui"))
from common import save, table  # noqa: E402


def peak_rss_mib(pid):
    """Peak and current resident memory (MiB) of ``pid`` and its children, from /proc."""
    def read(p):
        out = {}
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(("VmHWM:", "VmRSS:")):
                    k, v = line.split(":")
                    out[k] = int(v.split()[0]) / 1024
        except OSError:
            pass
        return out
    return read(pid)


def measure_sample(rows, n_later=3, n_steps=4):
    from measure_app import browser, open_map, serve, step_time
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=180_000)
    proc, url, t_server = serve("sample")
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1500, "height": 1300})
            first = open_map(page, url)
            later = []
            for _ in range(n_later):
                p2 = b.new_page(viewport={"width": 1500, "height": 1300})
                later.append(open_map(p2, url))
                p2.close()
            steps = [step_time(page, i + 1) for i in range(n_steps)]
            b.close()
        mem = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(20)
    rows += [
        {"pool": "sample", "what": "server start -> listening", "seconds": t_server},
        {"pool": "sample", "what": "first page load -> map drawn", "seconds": first},
        {"pool": "sample", "what": "cold start total (process start -> map drawn)",
         "seconds": t_server + first},
        {"pool": "sample", "what": "later session page load -> map (median)",
         "seconds": statistics.median(later), "all": later},
        {"pool": "sample", "what": "first Step (incl. round-0 training)", "seconds": steps[0]},
        {"pool": "sample", "what": "Step, click -> overlays drawn (median)",
         "seconds": statistics.median(steps[1:]), "all": steps},
        {"pool": "sample", "what": "server peak RSS (MiB)", "seconds": None,
         "mib": mem.get("VmHWM")},
    ]


def measure_big(n, rows):
    from measure_app import browser, open_map, pan_zoom_times, serve, step_time
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=600_000)
    proc, url, t_server = serve(f"synthetic:{n}")
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            page = b.new_page(viewport={"width": 1500, "height": 1300})
            first = open_map(page, url)
            times = pan_zoom_times(page, [("wheel", -400), ("wheel", -400), ("drag", 150),
                                          ("wheel", 400), ("drag", -150), ("wheel", -300),
                                          ("drag", 100), ("wheel", 300)])
            step = step_time(page, 1)
            b.close()
        mem = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(20)
    pool = f"synthetic-{n}"
    rows += [
        {"pool": pool, "what": "server start -> listening", "seconds": t_server},
        {"pool": pool, "what": "first page load -> map drawn", "seconds": first},
        {"pool": pool, "what": "pan/zoom -> re-rasterised map (median)",
         "seconds": statistics.median(times), "all": times},
        {"pool": pool, "what": "pan/zoom (max)", "seconds": max(times)},
        {"pool": pool, "what": "one Step (incl. round-0 training)", "seconds": step},
        {"pool": pool, "what": "server peak RSS (MiB)", "seconds": None, "mib": mem.get("VmHWM")},
    ]


def _cpu_s(pid):
    """CPU seconds (user + system) the process ``pid`` has used, from /proc."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _browser_cpu_s():
    """CPU seconds used so far by every Chromium process on this machine (from /proc)."""
    import glob
    import os

    total = 0.0
    for d in glob.glob("/proc/[0-9]*"):
        try:
            if "chrom" not in Path(d, "comm").read_text():
                continue
            fields = Path(d, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _serve(*args, timeout_s=900):
    """``anchoral serve ARGS`` on a free port; (process, url, seconds to listening)."""
    import subprocess
    import urllib.request

    from conftest import _free_port

    port = _free_port()
    cmd = [sys.executable, "-m", "explorer.cli", "serve", *args, "--port", str(port),
           "--address", "127.0.0.1"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/favicon.ico", timeout=30)
            break
        except OSError as err:
            if getattr(err, "code", None) is not None:  # any HTTP answer: it listens
                break
            if proc.poll() is not None or time.perf_counter() - t0 > timeout_s:
                proc.kill()
                raise RuntimeError("the server did not start") from err
            time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}/", time.perf_counter() - t0


def measure_concurrency(n, rows, n_steps=5, deadline_s=900, workers=None):
    """N contexts on one fresh ``anchoral serve sample``: time to map, Step latency, RSS."""
    import os

    from conftest import drawn_pixels, figures, overlay_sizes
    from measure_app import browser
    from playwright.sync_api import sync_playwright

    extra = ["--workers", str(workers)] if workers else []
    proc, url, t_server = _serve("sample", *extra)
    load_before = os.getloadavg()
    cpu0 = _cpu_s(proc.pid)
    try:
        with sync_playwright() as pw:
            b = browser(pw)
            pages = []
            for _ in range(n):
                ctx = b.new_context(viewport={"width": 1400, "height": 1100})
                pages.append(ctx.new_page())
            t0, b0 = time.perf_counter(), _browser_cpu_s()
            for pg in pages:  # all at once: do not wait for one page before the next
                pg.goto(url, wait_until="commit", timeout=deadline_s * 1000)
            drawn = [None] * n
            while None in drawn and time.perf_counter() - t0 < deadline_s:
                for i, pg in enumerate(pages):
                    if drawn[i] is None:
                        try:
                            if drawn_pixels(pg) > 2000:
                                drawn[i] = time.perf_counter() - t0
                        except Exception:  # page not ready yet (no map element)
                            pass
                time.sleep(0.05)
            cpu_maps = _cpu_s(proc.pid) - cpu0
            browser_maps = _browser_cpu_s() - b0
            steps, untouched, cpu_steps, browser_steps = [], None, None, None
            k = min(n_steps, n)
            ready = [pg for pg, t in zip(pages, drawn) if t is not None]
            loaded = None
            if len(ready) >= k:
                for pg in ready[:k]:  # wait until the Step buttons are live
                    pg.get_by_role("button", name="Step").wait_for(timeout=deadline_s * 1000)
                # a Step is timed on a whole page: its deferred parts (plots, table) drawn
                for pg in ready:
                    pg.wait_for_function("() => window.Bokeh && Bokeh.documents.length",
                                         timeout=deadline_s * 1000)
                    for _ in range(int(deadline_s / 0.1)):
                        if "minority-share" in figures(pg):
                            break
                        time.sleep(0.1)
                loaded = time.perf_counter() - t0
                time.sleep(2)
                starts, b1 = [], _browser_cpu_s()
                for pg in ready[:k]:
                    starts.append(time.perf_counter())
                    pg.get_by_role("button", name="Step").click(timeout=deadline_s * 1000)
                done = [None] * k
                pat = re.compile(r"round 1 of 1$")
                while None in done and time.perf_counter() - starts[0] < deadline_s:
                    for i, pg in enumerate(ready[:k]):
                        if done[i] is None and overlay_sizes(pg).get("Queried", 0) > 0 and \
                                pg.get_by_text(pat).count():
                            done[i] = time.perf_counter() - starts[i]
                    time.sleep(0.05)
                steps = done
                cpu_steps = _cpu_s(proc.pid) - cpu0 - cpu_maps
                browser_steps = _browser_cpu_s() - b1
                untouched = all(overlay_sizes(pg).get("Queried", 0) == 0 for pg in ready[k:])
            b.close()
        mem = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    got = [t for t in drawn if t is not None]
    stepped = [t for t in steps if t is not None]
    rows.append({
        "sessions": n, "workers": workers or "default",
        "server start (s)": t_server,
        "maps drawn": f"{len(got)}/{n}",
        "whole pages drawn (s)": loaded,
        "time to map, median (s)": statistics.median(got) if got else None,
        "time to map, max (s)": max(got) if got else None,
        "steps at once": len(steps),
        "Step latency, median (s)": statistics.median(stepped) if stepped else None,
        "Step latency, max (s)": max(stepped) if stepped else None,
        "others unchanged": untouched,
        "server CPU per page (s)": cpu_maps / n,
        "server CPU for the Steps (s)": cpu_steps,
        # the browsers run on the same cores as the server here (a class has its own laptops)
        "browser CPU per page (s)": browser_maps / n,
        "browser CPU for the Steps (s)": browser_steps,
        "deferred plots": os.environ.get("ANCHORAL_DEFER_LOAD", "1") != "0",
        "peak RSS (MiB)": mem.get("VmHWM"),
        "loadavg before": round(load_before[0], 1), "loadavg after": round(os.getloadavg()[0], 1),
        "all maps": got, "all steps": steps,
    })


CONCURRENCY_COLUMNS = ["sessions", "deferred plots", "maps drawn", "time to map, median (s)",
                       "time to map, max (s)", "whole pages drawn (s)", "steps at once",
                       "Step latency, median (s)",
                       "Step latency, max (s)", "others unchanged", "server CPU per page (s)",
                       "server CPU for the Steps (s)", "browser CPU per page (s)",
                       "browser CPU for the Steps (s)", "peak RSS (MiB)",
                       "loadavg before", "loadavg after"]


def measure_server_pages(n, rows):
    """N pages requested at once with no browser: seconds until each page is answered, which is
    when the server has built its session's first document (buttons, map controls, the map with
    its first image; the browser then pulls it over the websocket).

    The server's share of "time to map" when each person's browser runs on their own machine
    (a class of laptops); here the browsers of :func:`measure_concurrency` share the server's
    two cores.
    """
    import concurrent.futures
    import os
    import urllib.request

    proc, url, _ = _serve("sample")
    try:
        urllib.request.urlopen(url, timeout=600).read()  # the process's first page: warm caches
        cpu0 = _cpu_s(proc.pid)
        t0 = time.perf_counter()

        def get(_):
            body = urllib.request.urlopen(url, timeout=900).read()
            return time.perf_counter() - t0, len(body)

        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            got = list(pool.map(get, range(n)))
        cpu = _cpu_s(proc.pid) - cpu0
        mem = peak_rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    times = [t for t, _ in got]
    rows.append({"sessions": n, "pages answered": f"{len(times)}/{n}",
                 "server: first document, median (s)": statistics.median(times),
                 "server: first document, max (s)": max(times),
                 "server CPU per page (s)": cpu / n,
                 "page size (kB)": round(statistics.median(b for _, b in got) / 1000),
                 "peak RSS (MiB)": mem.get("VmHWM"), "loadavg": round(os.getloadavg()[0], 1)})


SERVER_COLUMNS = ["sessions", "pages answered", "server: first document, median (s)",
                  "server: first document, max (s)", "server CPU per page (s)", "page size (kB)",
                  "peak RSS (MiB)", "loadavg"]


def main_concurrency(counts, workers=None, undeferred=()):
    import os

    rows, server_rows = [], []
    for n in counts:  # the server alone first: no browser on these cores
        measure_server_pages(n, server_rows)
        print(table(server_rows, SERVER_COLUMNS), flush=True)
    plan = [(n, "1") for n in counts] + [(n, "0") for n in undeferred]
    for n, defer in plan:
        os.environ["ANCHORAL_DEFER_LOAD"] = defer  # the server inherits it
        try:
            measure_concurrency(n, rows, workers=workers)
        except Exception as err:  # report what fits on this machine, and why the rest did not
            rows.append({"sessions": n, "deferred plots": defer != "0",
                         "maps drawn": f"failed: {type(err).__name__}: "
                                       f"{str(err).splitlines()[0][:120]}"})
        print(table(rows, CONCURRENCY_COLUMNS), flush=True)
        path = save("app_concurrency", {"rows": rows, "server_only": server_rows, "targets": {
            "10 sessions: each map drawn (s)": 10, "5 Steps at once: each round shown (s)": 3}})
    print(f"\nsaved {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sample + 100k synthetic")
    ap.add_argument("--n", type=int, help="synthetic pool rows (default 1,000,000)")
    ap.add_argument("--skip-sample", action="store_true")
    ap.add_argument("--concurrency", metavar="N,N,...",
                    help="only the classroom measurement, for these session counts")
    ap.add_argument("--workers", type=int, help="anchoral serve --workers (concurrency)")
    ap.add_argument("--undeferred", metavar="N,N,...", default="",
                    help="also these counts with every view built at once "
                    "(ANCHORAL_DEFER_LOAD=0), for comparison")
    args = ap.parse_args(argv)
    if args.concurrency:
        return main_concurrency([int(c) for c in args.concurrency.split(",")], args.workers,
                                [int(c) for c in args.undeferred.split(",") if c])
    n = args.n or (100_000 if args.quick else 1_000_000)
    rows = []
    if not args.skip_sample:
        measure_sample(rows)
        print(table(rows, ["pool", "what", "seconds", "mib"]), flush=True)
    measure_big(n, rows)
    print()
    print(table(rows, ["pool", "what", "seconds", "mib"]))
    from explorer.ui import synthetic as syn

    dim = re.search(r"dim=(\d+)", Path(syn.__file__).read_text())
    path = save("app" + ("_quick" if args.quick else ""),
                {"rows": rows, "synthetic_dim_in_app": int(dim.group(1)) if dim else None})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
