"""Shared helpers for the benchmarks: machine facts, JSON results, table printing."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    import numpy
    import sklearn

    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "numpy": numpy.__version__, "scikit-learn": sklearn.__version__,
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()]}
    for mod in ("faiss", "torch", "umap", "sentence_transformers", "panel", "datashader"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # optional in a given benchmark
            pass
    try:
        mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
        info["memory_gib"] = round(int(mem) / 2**20, 1)
    except OSError:
        pass
    return info


def save(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=float) + "\n")
    return path


def table(rows, columns) -> str:
    widths = [max(len(str(c)), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    out = ["  ".join(str(c).ljust(w) for c, w in zip(columns, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths)) for r in rows]
    return "\n".join(out)


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def limit_threads(n: int | None) -> dict:
    """Cap BLAS / OpenMP / FAISS / torch threads at ``n`` (None or 0: leave as is) through
    :func:`explorer.threads.set_threads`, the library's one thread setting.

    On a shared 2-core machine, multi-threaded BLAS spin-waits when other processes hold the
    cores and small GEMMs get ~10x slower; one thread gives stable, comparable timings.
    Returns what was set, for the results file.
    """
    if not n:
        return {"threads": "default"}
    from explorer.threads import set_threads

    return {"threads": set_threads(int(n))}


class Timer:
    """Wall (``time.perf_counter``) and CPU (``time.process_time``) seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        return False
