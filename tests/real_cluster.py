"""A real Dask cluster on this machine: ``dask scheduler`` and ``dask worker`` processes over TCP.

Not a ``LocalCluster``: the scheduler and each worker are separate processes started with the
``dask`` command of this Python environment, exactly as on a cluster of several machines, bound
to 127.0.0.1. Workers run without a nanny (``--no-nanny``), so ``SIGKILL`` of a worker's pid loses
that worker for good, as a machine that dies would. :meth:`RealCluster.close` kills every
process it started (its process group) and :func:`leftovers` finds any that survived by the
unique token in their command lines.

Used by ``tests/test_cluster.py`` and ``benchmarks/bench_cluster.py``; also holds the logged,
slowed-down stand-ins whose tasks the tests count (workers import this module by name, so it
imports nothing from pytest).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _dask_command():
    exe = Path(sys.executable).with_name("dask")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dask"]


class RealCluster:
    """``dask scheduler`` + ``n_workers`` x ``dask worker --nthreads 1 --no-nanny`` on 127.0.0.1.

    Parameters
    ----------
    n_workers : int
    workdir : Path
        Logs, the scheduler file and the workers' local directories go here.
    env : dict, optional
        Extra environment of every process (``PYTHONPATH`` gets this repository and ``tests/``).
    nice : int
        ``nice`` increment of the processes (0: none).
    """

    def __init__(self, n_workers, workdir, env=None, nice=0):
        self.n_workers = n_workers
        self.workdir = Path(workdir)
        self.token = f"anchoral-test-{uuid.uuid4().hex[:10]}"
        self.env = dict(os.environ, **(env or {}))
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), str(HERE), os.environ.get("PYTHONPATH")) if p)
        self.env.setdefault("HF_HUB_OFFLINE", "1")
        self.env.setdefault("OMP_NUM_THREADS", "1")
        self.env.setdefault("MKL_NUM_THREADS", "1")
        self.env.setdefault("OPENBLAS_NUM_THREADS", "1")
        self.nice = nice
        self.scheduler = None
        self.workers = []  # every worker Popen started, dead ones included
        self.address = None

    def _spawn(self, name, args):
        log = open(self.workdir / f"{name}.log", "wb")
        prefix = ["nice", "-n", str(self.nice)] if self.nice else []
        proc = subprocess.Popen(prefix + _dask_command() + args, stdout=log,
                                stderr=subprocess.STDOUT, env=self.env, cwd=self.workdir,
                                start_new_session=True)
        log.close()
        proc.log_path = self.workdir / f"{name}.log"
        return proc

    def _log_tail(self, proc):
        return proc.log_path.read_text(errors="replace")[-3000:]

    def start(self, timeout=120):
        """Start the scheduler on a free port and the workers; wait until all are connected.

        On any failure every process started so far is killed before the error is raised."""
        try:
            return self._start(timeout)
        except BaseException:
            self.close()
            raise

    def _start(self, timeout):
        self.workdir.mkdir(parents=True, exist_ok=True)
        # the token in --scheduler-file's path marks the process for leftovers()
        sfile = self.workdir / f"{self.token}.json"
        self.scheduler = self._spawn("scheduler", [
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
            "--scheduler-file", str(sfile)])
        t0 = time.monotonic()
        while not sfile.exists():
            if self.scheduler.poll() is not None:
                raise RuntimeError(f"dask scheduler exited: {self._log_tail(self.scheduler)}")
            if time.monotonic() - t0 > timeout:
                raise RuntimeError("dask scheduler did not start in time")
            time.sleep(0.1)
        while True:  # the file is written in one go, but wait for valid JSON
            try:
                self.address = json.loads(sfile.read_text())["address"]
                break
            except (ValueError, KeyError):
                if time.monotonic() - t0 > timeout:
                    raise RuntimeError(f"{sfile} holds no scheduler address") from None
                time.sleep(0.1)
        for _ in range(self.n_workers):
            self.add_worker(wait=False)
        self.wait_for_workers(self.n_workers, timeout)
        return self.address

    def add_worker(self, wait=True, timeout=120):
        """Start one more worker (``tcp://`` address, one thread, no nanny); its Popen."""
        name = f"{self.token}-w{len(self.workers)}"
        proc = self._spawn(name, [
            "worker", self.address, "--nthreads", "1", "--nworkers", "1", "--no-nanny",
            "--no-dashboard", "--host", "127.0.0.1", "--name", name, "--death-timeout", "60",
            "--local-directory", str(self.workdir / name)])
        proc.worker_name = name
        self.workers.append(proc)
        if wait:
            self.wait_for_workers(len(self.alive()), timeout)
        return proc

    def alive(self):
        """The worker Popens still running."""
        return [p for p in self.workers if p.poll() is None]

    def wait_for_workers(self, n, timeout=120):
        from distributed import Client

        with Client(self.address, timeout="30s") as c:
            t0 = time.monotonic()
            while len(c.scheduler_info()["workers"]) < n:
                dead = [p for p in self.workers if p.poll() is not None and not
                        getattr(p, "killed", False)]
                if dead:
                    raise RuntimeError(f"dask worker exited: {self._log_tail(dead[0])}")
                if time.monotonic() - t0 > timeout:
                    raise RuntimeError(f"{n} workers did not connect in {timeout} s")
                time.sleep(0.1)

    def ensure_workers(self, n):
        """Start workers until ``n`` are running (after a test killed one)."""
        while len(self.alive()) < n:
            self.add_worker(wait=False)
        self.wait_for_workers(n)

    def kill(self, proc):
        """``SIGKILL`` a worker, as a machine that dies; waits until it is gone."""
        proc.killed = True
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def worker_pids(self, client):
        """``{worker address: pid}`` as the scheduler sees them."""
        return client.run(os.getpid)

    def close(self):
        """Kill every process this cluster started (each one's process group); wait for them."""
        procs = [p for p in [*self.workers, self.scheduler] if p is not None]
        for p in procs:  # workers first: a scheduler going away makes them retry
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 3  # then SIGKILL: nothing to save
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(30)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()


def leftovers(token) -> list:
    """Pids of processes whose command line holds ``token`` (none once a cluster is closed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmd:
            found.append(int(entry.name))
    return found


# --------------------------------------------------------------------------------------------
# Logged, slowed stand-ins: each call leaves a file, so a test counts what the workers computed
# --------------------------------------------------------------------------------------------

def _mark(log_dir, tag, phase):
    Path(log_dir, f"{tag}.{phase}.{os.getpid()}.{uuid.uuid4().hex[:6]}").touch()


def log_entries(log_dir) -> list:
    """``[(tag, phase, pid), ...]`` of every mark left in ``log_dir``."""
    out = []
    for p in Path(log_dir).iterdir():
        tag, phase, pid, _ = p.name.rsplit(".", 3)
        out.append((tag, phase, int(pid)))
    return out


def in_flight(log_dir, pid) -> set:
    """Tags process ``pid`` marked ``start`` and not ``done``: the task it is running."""
    marks = log_entries(log_dir)
    started = {t for t, ph, p in marks if p == pid and ph == "start"}
    return started - {t for t, ph, p in marks if p == pid and ph == "done"}


def wait_in_flight(log_dir, pid, timeout=60):
    """Wait until process ``pid`` is running a logged task (to kill it mid-task)."""
    t0 = time.monotonic()
    while not in_flight(log_dir, pid):
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"process {pid} started no task in {timeout} s")
        time.sleep(0.01)


class SlowHashEncoder:
    """A deterministic 16-d encoder (token hashes) that sleeps ``delay`` s per call and marks
    ``start``/``done`` of each call in ``log_dir``, tagged by its first text's hash."""

    dim = 16

    def __init__(self, log_dir, delay=0.3):
        self.log_dir = str(log_dir)
        self.delay = delay

    @property
    def model_id(self):
        return "slowhash16"

    @staticmethod
    def tag(texts):
        return hashlib.sha1(texts[0].encode()).hexdigest()[:10]

    def encode(self, texts, show_progress=False):
        texts = list(texts)
        _mark(self.log_dir, self.tag(texts), "start")
        time.sleep(self.delay)
        X = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                h = int(hashlib.md5(w.encode()).hexdigest(), 16)
                X[i, h % self.dim] += 1.0 + (h >> 8) % 7
        X[:, 0] += 0.5
        _mark(self.log_dir, self.tag(texts), "done")
        return X / np.linalg.norm(X, axis=1, keepdims=True)


class SlowLoggedHead:
    """A fitted classifier's ``predict_proba`` that sleeps ``delay`` s per call and marks
    ``start``/``done`` in ``log_dir``, tagged by the first row's bytes (one call per task when
    ``block_rows`` >= the task's rows)."""

    def __init__(self, estimator, log_dir, delay=0.3):
        self.estimator = estimator
        self.classes_ = estimator.classes_
        self.log_dir = str(log_dir)
        self.delay = delay

    @staticmethod
    def tag(row):
        return hashlib.sha1(np.asarray(row, np.float32).tobytes()).hexdigest()[:10]

    def predict_proba(self, X):
        _mark(self.log_dir, self.tag(X[0]), "start")
        time.sleep(self.delay)
        p = self.estimator.predict_proba(X)
        _mark(self.log_dir, self.tag(X[0]), "done")
        return p


class SlowLoggedScale:
    """A fitted reducer's ``transform`` (``X * 0.5``) that sleeps ``delay`` s per call and marks
    ``start``/``done`` in ``log_dir``, tagged by the first row's bytes."""

    def __init__(self, log_dir, delay=0.3):
        self.log_dir = str(log_dir)
        self.delay = delay

    def transform(self, X):
        tag = SlowLoggedHead.tag(X[0])
        _mark(self.log_dir, tag, "start")
        time.sleep(self.delay)
        _mark(self.log_dir, tag, "done")
        return X * 0.5


class BrokenHead:
    """A classifier whose ``predict_proba`` always fails (a task's own error on a worker)."""

    def predict_proba(self, X):
        raise RuntimeError("broken head")
