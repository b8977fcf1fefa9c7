"""One setting for the threads of BLAS, OpenMP, FAISS and torch, used by the CLI, the app and
library callers alike.

Every numerical library here brings its own thread pool (numpy's OpenBLAS, FAISS's OpenBLAS and
OpenMP, torch's OpenMP/MKL). Left alone each starts one thread per core, and on a small or busy
machine they oversubscribe the cores and spin-wait: on a shared 2-core machine sklearn's
``kmeans_plusplus`` ran ~10x slower with 2 BLAS threads than with 1. :func:`set_threads` caps
all of them at once; :func:`limit` does so inside a ``with`` block only.

    >>> from explorer import threads
    >>> with threads.limit(1):
    ...     pass  # single-threaded BLAS / FAISS / torch here

The CLI's ``anchoral --threads N`` (any sub-command), ``anchoral serve --threads N`` /
``panel serve apps/anchoral.py --args --threads N`` and ``$ANCHORAL_THREADS`` all end here.

Two defaults, for when neither ``--threads`` nor ``$ANCHORAL_THREADS`` says (both win over
either default):

* **batch** (``default_threads(batch=True)``): one thread per available core. For commands that
  run unattended and end (``anchoral prepare``, ``fetch``, ``simulate``, ``export``;
  :data:`explorer.cli.BATCH` lists them): a first ``prepare`` embeds its pool with every core
  (on 2 free cores 1.5-1.9x faster than one thread, docs/benchmarks.md, section 4b).
* **interactive** (the default, ``batch=False``): 1 thread on <= 2 cores, else ``min(4, cores)``.
  For the app's server (``anchoral serve``, ``panel serve apps/anchoral.py``), ``anchoral label``
  and library callers: the browser, the person and other sessions share those cores.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

from .exceptions import ParameterError

#: environment variable read when no thread count is given
ENV = "ANCHORAL_THREADS"

# environment variables read by libraries loaded *after* set_threads (torch reads them on import)
_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: OpenMP threads that wait for work sleep instead of spinning (unless the user set it): read by
#: each OpenMP runtime when it loads (faiss's and torch's libgomp load after set_threads in the
#: CLI). On 2 cores busy with other work, torch on 2 spinning threads embedded 3-5x slower than on
#: one and burnt 2.6-3x the CPU; sleeping, the second thread costs no extra CPU
#: (docs/benchmarks.md, section 4b)
_WAIT_POLICY = ("OMP_WAIT_POLICY", "PASSIVE")


def default_threads(cpu_count=None, batch=False) -> int:
    """The thread count when none is given.

    Parameters
    ----------
    cpu_count : int, optional
        Cores to plan for; default: the cores this process may run on.
    batch : bool, default False
        ``True``: a command that runs unattended and ends (``prepare``, ``simulate``...): one
        thread per core, so a first ``prepare`` embeds with the whole machine. ``False``: 1
        thread on machines with at most 2 cores, else ``min(4, cores)``.

    Notes
    -----
    The interactive default keeps one thread on <= 2 cores: the app's server, the browser and
    the user's other work share them, and a second BLAS thread that waits for a busy core costs
    more than it gains (docs/benchmarks.md, "Engine findings"). Above 4 threads the per-round
    work here (20-anchor searches, a linear head, subpools of <= 10k rows) no longer speeds up.
    """
    cores = cpu_count if cpu_count is not None else (_available_cores())
    if batch:
        return max(1, cores)
    return 1 if cores <= 2 else min(4, cores)


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def resolve(n=None, env=None, batch=False) -> int:
    """The thread count to use: ``n``; else ``$ANCHORAL_THREADS``; else
    :func:`default_threads` (``batch`` chooses which). ``0`` means one per available core."""
    env = os.environ if env is None else env
    source = "threads"
    if n is None and env.get(ENV, "").strip():
        n, source = env[ENV].strip(), f"${ENV}"
    if n is None:
        return default_threads(batch=batch)
    try:
        value = int(n)
    except (TypeError, ValueError):
        value = -1
    if isinstance(n, bool) or value < 0 or (isinstance(n, float) and n != value):
        raise ParameterError(f"{source}={n!r} must be an integer >= 1 (or 0 for one per core); "
                             "e.g. --threads 1")
    return value or _available_cores()


def get_threads() -> dict:
    """Current thread counts per library: ``{"blas": ..., "openmp": ..., "faiss": ...,
    "torch": ...}`` (a library not loaded is left out)."""
    from threadpoolctl import threadpool_info

    out = {}
    for pool in threadpool_info():
        key = "blas" if pool["user_api"] == "blas" else "openmp"
        out[key] = max(out.get(key, 0), pool["num_threads"])
    faiss = sys.modules.get("faiss")
    if faiss is not None:
        out["faiss"] = faiss.omp_get_max_threads()
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = torch.get_num_threads()
    return out


def _faiss():
    try:
        import faiss
    except ImportError:  # pragma: no cover - faiss is a dependency
        return None
    return faiss


def _apply(n):
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)
    faiss = _faiss()
    if faiss is not None:
        faiss.omp_set_num_threads(n)
    torch = sys.modules.get("torch")  # importing torch costs seconds: only when loaded
    if torch is not None:
        torch.set_num_threads(n)


def set_threads(n=None, batch=False) -> int:
    """Cap BLAS, OpenMP, FAISS and torch at ``n`` threads for the rest of the process.

    Parameters
    ----------
    n : int or None
        Threads; ``None``: ``$ANCHORAL_THREADS`` or :func:`default_threads`; ``0``: one per core.
    batch : bool, default False
        Which default ``n=None`` falls back to (:func:`default_threads`): ``True`` for commands
        that run unattended, one thread per core.

    Returns
    -------
    int
        The count that was set. Libraries loaded later (torch) read it from
        ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``, which are set too, with
        ``OMP_WAIT_POLICY=PASSIVE`` unless already set: idle OpenMP threads sleep rather than
        spin on a core that other work needs.
    """
    n = resolve(n, batch=batch)
    for var in _ENV_VARS:
        os.environ[var] = str(n)
    os.environ.setdefault(*_WAIT_POLICY)
    _apply(n)
    return n


@contextmanager
def limit(n=1):
    """``with limit(n):`` — BLAS, OpenMP, FAISS and torch use ``n`` threads inside the block and
    what they used before after it."""
    n = resolve(n)
    from threadpoolctl import threadpool_limits

    faiss = _faiss()
    torch = sys.modules.get("torch")
    before_faiss = faiss.omp_get_max_threads() if faiss is not None else None
    before_torch = torch.get_num_threads() if torch is not None else None
    with threadpool_limits(limits=n):
        if faiss is not None:
            faiss.omp_set_num_threads(n)
        if torch is not None:
            torch.set_num_threads(n)
        try:
            yield n
        finally:
            if faiss is not None:
                faiss.omp_set_num_threads(before_faiss)
            if torch is not None:
                torch.set_num_threads(before_torch)


#: what ``--threads``' help says each default is
_DEFAULT_HELP = {True: "one per core (a batch command)",
                 False: "1 on <= 2 cores and min(4, cores) above"}


def add_argument(parser, default=None, batch=None):
    """Add ``--threads N`` to an argparse parser (``default=argparse.SUPPRESS`` lets a
    sub-command inherit the top-level value). ``batch`` names the default the help describes
    (:func:`default_threads`); ``None``: a parser for several commands, the help gives both."""
    if batch is None:
        fallback = (f"one per core for batch commands, {_DEFAULT_HELP[False]} for the others: "
                    "see COMMAND --help")
    else:
        fallback = _DEFAULT_HELP[bool(batch)]
    parser.add_argument(
        "--threads", type=int, default=default, metavar="N",
        help=f"threads for BLAS / OpenMP / FAISS / torch (default: ${ENV}, else {fallback}; "
             "0 = one per core)")
