"""Thread management: one setting for BLAS, OpenMP, FAISS and torch; CLI and app options."""

import faiss
import pytest
from threadpoolctl import threadpool_info

from explorer import threads
from explorer.cli import build_parser
from explorer.exceptions import ParameterError


def blas_threads():
    return {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}


def test_default_for_the_cores_available():
    assert threads.default_threads(1) == 1
    assert threads.default_threads(2) == 1
    assert threads.default_threads(3) == 3
    assert threads.default_threads(64) == 4


def test_resolve_argument_then_environment_then_default():
    assert threads.resolve(3, env={}) == 3
    assert threads.resolve(None, env={"ANCHORAL_THREADS": "2"}) == 2
    assert threads.resolve(5, env={"ANCHORAL_THREADS": "2"}) == 5
    assert threads.resolve(None, env={}) == threads.default_threads()
    assert threads.resolve(0, env={}) >= 1  # 0: one per core
    with pytest.raises(ParameterError, match=r"threads=-1 must be an integer >= 1 \(or 0"):
        threads.resolve(-1, env={})
    with pytest.raises(ParameterError, match=r"\$ANCHORAL_THREADS='many' must be an integer"):
        threads.resolve(None, env={"ANCHORAL_THREADS": "many"})


def test_limit_sets_every_library_and_restores():
    before_blas, before_faiss = blas_threads(), faiss.omp_get_max_threads()
    with threads.limit(1) as n:
        assert n == 1
        assert blas_threads() == {1}
        assert faiss.omp_get_max_threads() == 1
        assert threads.get_threads()["faiss"] == 1
    assert blas_threads() == before_blas and faiss.omp_get_max_threads() == before_faiss


def test_set_threads_caps_all_and_sets_the_environment(monkeypatch):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(var, raising=False)
    before = faiss.omp_get_max_threads()
    try:
        assert threads.set_threads(1) == 1
        assert blas_threads() == {1} and faiss.omp_get_max_threads() == 1
        import os

        assert os.environ["OMP_NUM_THREADS"] == "1"  # torch, loaded later, reads it
        assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"  # ... and sleeps instead of spinning
        monkeypatch.setenv("OMP_WAIT_POLICY", "active")
        threads.set_threads(1)
        assert os.environ["OMP_WAIT_POLICY"] == "active"  # the user's choice stays
    finally:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=None)
        faiss.omp_set_num_threads(before)


@pytest.mark.parametrize("argv", [["--threads", "3", "prepare", "sample"],
                                  ["prepare", "sample", "--threads", "3"]])
def test_cli_threads_before_or_after_the_sub_command(argv):
    args = build_parser().parse_args(argv)
    assert args.threads == 3


def test_cli_threads_default_is_none_then_resolved():
    args = build_parser().parse_args(["prepare", "sample"])
    assert args.threads is None


def test_app_options_take_threads_from_args_or_environment():
    from explorer.ui.serving import app_options

    assert app_options(["sample", "--threads", "2"], {})["threads"] == 2
    assert app_options(["sample"], {"ANCHORAL_THREADS": "3"})["threads"] == 3
    assert app_options(["sample"], {})["threads"] == threads.default_threads()


def test_batch_default_is_one_thread_per_core():
    assert threads.default_threads(1, batch=True) == 1
    assert threads.default_threads(2, batch=True) == 2
    assert threads.default_threads(64, batch=True) == 64
    assert threads.default_threads(2, batch=False) == 1  # the interactive default is unchanged


def test_resolve_batch_default_loses_to_argument_and_environment():
    assert threads.resolve(None, env={}, batch=True) == threads.default_threads(batch=True)
    assert threads.resolve(None, env={"ANCHORAL_THREADS": "1"}, batch=True) == 1
    assert threads.resolve(1, env={}, batch=True) == 1


class _Applied(Exception):
    pass


@pytest.fixture
def applied(monkeypatch):
    """Run ``anchoral ARGV`` up to the thread setting: the count it applies, on ``cores`` cores
    (the command itself is not run)."""
    from explorer import cli
    from explorer.exceptions import ParameterError

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", threads.ENV):
        monkeypatch.delenv(var, raising=False)
    seen = []

    def spy(n):
        seen.append(n)
        raise ParameterError("stop before the command runs")

    monkeypatch.setattr(threads, "_apply", spy)

    def run(argv, cores, env=None):
        monkeypatch.setattr(threads, "_available_cores", lambda: cores)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        seen.clear()
        assert cli.main(argv) == 2
        return seen[0]

    return run


COMMAND_ARGV = {
    "prepare": ["prepare", "sample"],
    "fetch": ["fetch", "brown"],
    "simulate": ["simulate", "sample"],
    "export": ["export", "some-session", "--out", "labels.csv"],
    "serve": ["serve", "sample"],
    "label": ["label", "sample", "--session", "some-session"],
    "neighbours": ["neighbours", "sample", "free money"],
}


@pytest.mark.parametrize("command, batch", [("prepare", True), ("fetch", True),
                                            ("simulate", True), ("export", True),
                                            ("serve", False), ("label", False),
                                            ("neighbours", False)])
@pytest.mark.parametrize("cores", [2, 8])
def test_cli_default_threads_per_command(applied, command, batch, cores):
    from explorer.cli import COMMANDS

    assert set(COMMAND_ARGV) == set(COMMANDS)  # every command is checked here
    expected = cores if batch else {2: 1, 8: 4}[cores]
    assert applied(COMMAND_ARGV[command], cores) == expected


@pytest.mark.parametrize("command", ["prepare", "serve"])
def test_cli_explicit_threads_or_environment_win_over_either_default(applied, command):
    argv = COMMAND_ARGV[command]
    assert applied(argv + ["--threads", "3"], cores=8) == 3
    assert applied(["--threads", "3"] + argv, cores=8) == 3
    assert applied(argv, cores=8, env={"ANCHORAL_THREADS": "3"}) == 3


def test_threads_help_names_the_default_of_each_command(capsys):
    for argv, default in ((["prepare", "--help"], "one per core (a batch command)"),
                          (["serve", "--help"], "1 on <= 2 cores and min(4, cores) above")):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
        out = " ".join(capsys.readouterr().out.split())
        assert f"else {default};" in out


def _openmp_loaded_after(code):
    import subprocess
    import sys
    from pathlib import Path

    probe = (f"{code}\nimport re\n"
             "print(bool(re.search(r'lib(g|i)?omp', open('/proc/self/maps').read())))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    return out.strip().splitlines()[-1] == "True"


def test_the_cli_parses_before_any_openmp_runtime_loads(missing):
    if not __import__("os").path.exists("/proc/self/maps"):
        missing("/proc/self/maps (Linux only)")
    """OMP_WAIT_POLICY (set by set_threads) is read when an OpenMP runtime loads: none may load
    while the CLI builds its parser, before main calls set_threads."""
    assert _openmp_loaded_after("import faiss")  # the probe sees a loaded runtime
    assert not _openmp_loaded_after("from explorer.cli import build_parser\nbuild_parser()")
