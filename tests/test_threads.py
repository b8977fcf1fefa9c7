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
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    before = faiss.omp_get_max_threads()
    try:
        assert threads.set_threads(1) == 1
        assert blas_threads() == {1} and faiss.omp_get_max_threads() == 1
        import os

        assert os.environ["OMP_NUM_THREADS"] == "1"  # torch, loaded later, reads it
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
