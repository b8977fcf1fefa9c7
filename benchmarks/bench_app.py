"""App latency in a real browser (Debian chromium via Playwright) and the server's peak memory.

    python benchmarks/bench_app.py            # sample (cold start, Step) + 1M synthetic (pan/zoom, Step, RSS)
    python benchmarks/bench_app.py --quick    # sample + a 100k synthetic pool

Every measurement starts ``anchoral serve DATA`` in a subprocess on a free port (as a user would)
and drives /usr/bin/chromium (never a downloaded browser) with the args of ``tests/ui/conftest.py``.

* cold start: process start -> listening (imports, pool loaded, app warmed), then page load -> map
  canvas has drawn pixels; and later sessions' page load -> map.
* Step: click -> "round k of k" shown and the queried overlay drawn (AnchorAL vs full pool, LR).
* pan/zoom: mouse wheel / drag on the map -> every datashader image replaced in the page.
* peak RSS: the server process's ``VmHWM`` from ``/proc/PID/status`` after all of the above.
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sample + 100k synthetic")
    ap.add_argument("--n", type=int, help="synthetic pool rows (default 1,000,000)")
    ap.add_argument("--skip-sample", action="store_true")
    args = ap.parse_args(argv)
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
