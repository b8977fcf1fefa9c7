"""The page's Session card writes only where the server allows (no browser, no Panel)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from explorer.ui.sessions import open_session, save_session
from explorer.ui.state import ExplorerState
from explorer.ui.synthetic import synthetic_prepared

sys.path.insert(0, str(Path(__file__).parent / "ui"))
from fakes import FakeDriver  # noqa: E402


@pytest.fixture(scope="module")
def pool():
    return synthetic_prepared(1000, dim=8, minority_share=0.1)


def state(pool, root, real=False):
    st = ExplorerState(pool, experiment_factory=None if real else FakeDriver, filters=["anchoral"],
                       subpool_size=200)
    st.source = "synthetic:1000"
    st.session_root = root
    return st


@pytest.mark.parametrize("typed", ["../out", "/tmp", "a/../../out"])
def test_a_path_out_of_the_root_is_refused_and_nothing_is_written(pool, tmp_path, typed):
    root = tmp_path / "class"
    root.mkdir()
    st = state(pool, str(root))
    st.step()
    assert not save_session(st, typed)
    assert "outside the session root" in st.job.error
    assert not (tmp_path / "out").exists()
    assert not open_session(st, typed, lambda cb: cb())
    assert "outside the session root" in st.job.error


def test_a_relative_path_is_saved_under_the_root(pool, tmp_path):
    root = tmp_path / "class"
    root.mkdir()
    st = state(pool, str(root), real=True)
    st.step()
    assert save_session(st, "alice/run1"), st.job.error
    assert st.session_dir == str(root.resolve() / "alice" / "run1")
    assert (root / "alice" / "run1" / "session.json").is_file()
    st.close()


def test_a_network_server_without_a_root_lets_no_page_choose(pool, tmp_path):
    st = state(pool, False)
    st.step()
    assert not save_session(st, str(tmp_path / "s"))
    assert "lets no page choose a session directory" in st.job.error
    assert not (tmp_path / "s").exists()


def test_work_interrupted_by_a_dead_server_is_named_on_open(pool, tmp_path):
    from explorer.session_files import note_running

    st = state(pool, None, real=True)
    st.step()
    assert save_session(st, str(tmp_path / "s")), st.job.error
    st.start(2, lambda cb: cb())
    st.wait()
    assert not (tmp_path / "s" / "running.json").exists()  # finished work leaves no note
    # a server killed during "Run 10 rounds" begun at round 3, after saving round 3 only
    note_running(tmp_path / "s", "Run 10 rounds", 2, 12)
    st.close()
    again = state(pool, None, real=True)
    open_session(again, str(tmp_path / "s"), lambda cb: cb())
    again.wait()
    assert again.job.error == "" and again.n_done == 3
    assert re.search(r'the server stopped during "Run 10 rounds" \(started .* at round 2\): 1 of '
                     r"its rounds were saved, 9 were not run; press Run N to continue",
                     again.job.status), again.job.status
    assert not (tmp_path / "s" / "running.json").exists()  # said once
    again.close()
