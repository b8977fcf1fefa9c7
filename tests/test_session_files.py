"""Session directories are safe to point a classroom at: no path out, no symlink, damage named."""

import json
import os

import pandas as pd
import pytest

from explorer.export import export
from explorer.exceptions import SessionError
from explorer.session_files import resolve_session_dir, session_file
from explorer.store import create_session, open_session

from test_store import spec, toy_prepared  # tests/ is on sys.path (rootdir conftest)

SETTINGS = dict(seed=1, init_size=30, init_per_minority=3, query_size=5, subpool_size=60)


@pytest.fixture(scope="module")
def prepared():
    return toy_prepared(n=300)


@pytest.fixture
def session(tmp_path, prepared):
    """A closed session directory with one simulated round."""
    with create_session(tmp_path / "s", prepared, spec(prepared), **SETTINGS) as s:
        s.step()
    return tmp_path / "s"


# ------------------------------------------------------------------------------------ paths
def test_relative_paths_resolve_under_the_root(tmp_path):
    root = tmp_path / "class"
    root.mkdir()
    assert resolve_session_dir("alice/run1", root) == root.resolve() / "alice" / "run1"
    assert resolve_session_dir(root / "bob", root) == root.resolve() / "bob"
    assert resolve_session_dir(".", root) == root.resolve()


@pytest.mark.parametrize("typed", ["../elsewhere", "alice/../../elsewhere", "/etc", "~"])
def test_paths_out_of_the_root_are_refused(tmp_path, typed):
    root = tmp_path / "class"
    root.mkdir()
    with pytest.raises(SessionError, match=r"is outside the session root .* \(--session-root\)"):
        resolve_session_dir(typed, root)


def test_a_symlinked_directory_out_of_the_root_is_refused(tmp_path):
    root, outside = tmp_path / "class", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "sneaky").symlink_to(outside)
    with pytest.raises(SessionError, match="is outside the session root"):
        resolve_session_dir("sneaky/run", root)


@pytest.mark.parametrize("typed, message", [("", "is empty or invalid"),
                                            ("a\x00b", "is empty or invalid")])
def test_empty_or_nul_paths_are_refused(tmp_path, typed, message):
    with pytest.raises(SessionError, match=message):
        resolve_session_dir(typed, tmp_path)


def test_a_file_is_not_a_session_directory(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SessionError, match="is a file: give a directory"):
        resolve_session_dir(tmp_path / "f")


def test_unknown_file_names_are_refused(tmp_path):
    with pytest.raises(SessionError, match=r"'../x' is not a session file"):
        session_file(tmp_path, "../x")


# --------------------------------------------------------------------------------- symlinks
@pytest.mark.parametrize("name", ["session.json", "labels.parquet", "pending.json",
                                  "rounds.parquet", "queries.parquet"])
def test_a_session_file_that_is_a_symlink_is_refused(session, tmp_path, prepared, name):
    target = tmp_path / f"elsewhere-{name}"
    os.replace(session / name, target)
    (session / name).symlink_to(target)
    before = target.read_bytes()
    with pytest.raises(SessionError, match=rf"{name} is a symbolic link .* never follows links"):
        open_session(session, prepared=prepared)
    assert target.read_bytes() == before  # nothing written through the link


def test_a_lock_symlink_does_not_truncate_its_target(session, tmp_path, prepared):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.remove(session / ".lock")
    (session / ".lock").symlink_to(victim)
    with pytest.raises(SessionError, match=r"\.lock is a symbolic link"):
        open_session(session, prepared=prepared)
    assert victim.read_text() == "precious"


def test_saving_refuses_a_symlink_planted_after_open(session, tmp_path, prepared):
    victim = tmp_path / "victim.json"
    victim.write_text("{}")
    with open_session(session, prepared=prepared) as s:
        os.remove(session / "pending.json")
        (session / "pending.json").symlink_to(victim)
        with pytest.raises(SessionError, match="pending.json is a symbolic link"):
            s.step()
    assert victim.read_text() == "{}"


# ------------------------------------------------------------------------ damaged files
def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("name, damage, recover", [
    ("session.json", _truncate, "restore it from a backup"),
    ("session.json", lambda p: p.write_text(""), "the file is empty.*restore it"),
    ("labels.parquet", _truncate, "restore it from a backup"),
    ("labels.parquet", lambda p: p.write_bytes(b""), "restore it from a backup"),
    ("rounds.parquet", _truncate, "delete it: it is rebuilt"),
    ("queries.parquet", lambda p: p.write_bytes(b"PAR1junk"), "delete it: it is rebuilt"),
    ("pending.json", lambda p: p.write_text('{"anchoral-entropy": {"3"'),  # cut mid-write
     "delete it to drop the labels given to the open batch"),
])
def test_a_damaged_file_is_named_with_its_recovery(session, prepared, name, damage, recover):
    damage(session / name)
    with pytest.raises(SessionError, match=rf"{name} is corrupted or truncated .*{recover}"):
        open_session(session, prepared=prepared)


def test_a_missing_labels_table_is_not_an_empty_session(session, prepared):
    os.remove(session / "labels.parquet")
    with pytest.raises(SessionError, match="labels.parquet is missing, so the session's labels"):
        open_session(session, prepared=prepared)


def test_a_pending_file_of_the_wrong_shape_is_named(session, prepared):
    (session / "pending.json").write_text(json.dumps(["not", "a", "dict"]))
    with pytest.raises(SessionError, match="is not a pending-labels file; delete it"):
        open_session(session, prepared=prepared, readonly=True)


def test_a_labels_table_without_its_columns_is_named(session, prepared):
    pd.DataFrame({"id": [1]}).to_parquet(session / "labels.parquet")
    with pytest.raises(SessionError, match=r"not a session table: columns \[.*'label'"):
        open_session(session, prepared=prepared)


def test_export_names_a_damaged_rounds_table(session, tmp_path):
    _truncate(session / "rounds.parquet")
    with pytest.raises(SessionError, match="rounds.parquet is corrupted or truncated"):
        export(session, "rounds", tmp_path / "r.csv")
    os.remove(session / "rounds.parquet")
    with pytest.raises(SessionError, match="rounds.parquet is missing; it is rebuilt"):
        export(session, "plots", tmp_path / "p.html")


def test_an_intact_session_still_opens(session, prepared):
    with open_session(session, prepared=prepared) as s:
        assert [r.round for r in s.experiment.runs] == [1]
        assert s.pending() == {}
