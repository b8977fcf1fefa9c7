"""Safe access to the files of a session directory: no path out of it, no symlink followed,
a damaged file named with the way to recover.

A classroom server lets people type a session directory in the page, so every path is checked
here before the store reads or writes it: :func:`resolve_session_dir` keeps it under an allowed
root, :func:`session_file` refuses a file that is a symbolic link (``session.json`` pointing at
someone else's file) or not a regular file, and the readers turn a corrupt or truncated file into
a :class:`~explorer.exceptions.SessionError` that says which file and what to do, instead of a
library traceback or a silently empty session.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

from .exceptions import SessionError, SessionLockedError

#: what to do when each file of a session is damaged
RECOVER = {
    "session.json": "restore it from a backup (labels.parquet still holds every committed label)",
    "labels.parquet": "restore it from a backup (queries.parquet holds the queried ids of every "
                      "saved round)",
    "pending.json": "delete it to drop the labels given to the open batch (committed rounds are "
                    "kept in labels.parquet)",
    "rounds.parquet": "delete it: it is rebuilt from labels.parquet on the next save",
    "queries.parquet": "delete it: it is rebuilt from labels.parquet on the next save",
    "running.json": "delete it: it only notes work that a stopped server did not finish",
    "decisions.jsonl": "restore it from a backup, or delete it to drop the history of decisions "
                       "(committed labels are kept in labels.parquet)",
}
FILES = (*RECOVER, ".lock")


def resolve_session_dir(path, root=None) -> Path:
    """The absolute, symlink-free session directory for ``path``.

    Parameters
    ----------
    path : str or Path
        As typed: ``~`` is expanded; a relative path is taken under ``root`` when one is given.
    root : str or Path, optional
        Every session directory must lie under it once symbolic links are resolved (a served
        classroom sets it with ``--session-root``); ``None`` allows any directory.

    Raises
    ------
    SessionError
        Empty path, a path out of ``root``, or a path that is a file.
    """
    text = str(path or "").strip()
    if not text or "\x00" in text:
        raise SessionError(f"session directory {text!r} is empty or invalid: give a directory "
                           "name, e.g. labels/spam-1")
    p = Path(text).expanduser()
    if root is not None:
        base = Path(root).expanduser().resolve()
        p = (p if p.is_absolute() else base / p).resolve()
        if p != base and base not in p.parents:
            raise SessionError(f"session directory {text!r} is outside the session root {base} "
                               "(--session-root): give a directory under it")
    else:
        p = p.resolve()
    if p.exists() and not p.is_dir():
        raise SessionError(f"session directory {str(p)!r} is a file: give a directory")
    return p


def session_file(directory, name) -> Path:
    """``directory / name``, refused when it is a symbolic link or not a regular file."""
    if name not in FILES:
        raise SessionError(f"{name!r} is not a session file; known: {', '.join(FILES)}")
    p = Path(directory) / name
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return p
    if stat.S_ISLNK(st.st_mode):
        raise SessionError(f"{p} is a symbolic link (to {os.readlink(p)!r}); a session never "
                           "follows links out of its directory: replace the link by the file "
                           "itself, or remove it")
    if not stat.S_ISREG(st.st_mode):
        raise SessionError(f"{p} is not a regular file; remove it")
    return p


def check_files(directory) -> Path:
    """Refuse a session directory whose files include a symbolic link or a non-file."""
    directory = Path(directory)
    for name in FILES:
        session_file(directory, name)
    return directory


def read_json(directory, name, missing=None):
    """The JSON document in ``directory/name``; ``missing`` when the file does not exist."""
    f = session_file(directory, name)
    if not f.exists():
        return missing
    try:
        text = f.read_text(encoding="utf-8")
        if not text.strip():
            raise ValueError("the file is empty")
        return json.loads(text)
    except (ValueError, OSError) as err:
        raise SessionError(f"{f} is corrupted or truncated ({_first_line(err)}); "
                           f"{RECOVER[name]}") from None


def read_table(directory, name, columns=()):
    """The Parquet table ``directory/name`` (``None`` when absent), with ``columns`` checked."""
    import pandas as pd

    f = session_file(directory, name)
    if not f.exists():
        return None
    try:
        df = pd.read_parquet(f)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise SessionError(f"{f} is corrupted or truncated ({_first_line(err)}); "
                           f"{RECOVER[name]}") from None
    missing = sorted(set(columns) - set(df.columns))
    if missing:
        raise SessionError(f"{f} is not a session table: columns {missing} are missing; "
                           f"{RECOVER[name]}")
    return df


def note_running(directory, what, start_round, target_round) -> None:
    """Note in ``running.json`` that ``what`` runs from ``start_round`` to ``target_round``.

    Written before long work on a saved session and removed when it ends (:func:`clear_running`),
    so a server killed in between leaves the note, and the next one to open the session can say
    what was not done (:func:`interrupted`).
    """
    import datetime as dt

    from ._io import write_atomic

    doc = {"what": str(what), "start_round": int(start_round),
           "target_round": int(target_round), "pid": os.getpid(),
           "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    f = session_file(directory, "running.json")
    write_atomic(f, lambda p: p.write_text(json.dumps(doc)))


def clear_running(directory) -> None:
    """Remove the note of :func:`note_running` (the work ended, finished or cancelled)."""
    f = session_file(directory, "running.json")
    f.unlink(missing_ok=True)


def interrupted(directory, rounds_saved) -> str:
    """What a stopped server left undone (``""`` when nothing), and forget the note.

    ``rounds_saved`` is the number of rounds the session holds now (replayed from
    ``labels.parquet``): rounds up to it were committed, the rest of the noted work was not.
    """
    doc = read_json(directory, "running.json")
    if not isinstance(doc, dict):
        return ""
    clear_running(directory)
    start, target = int(doc.get("start_round", 0)), int(doc.get("target_round", 0))
    done = max(min(rounds_saved, target) - start, 0)
    left = max(target - max(rounds_saved, start), 0)
    return (f"the server stopped during \"{doc.get('what', 'work')}\" (started "
            f"{doc.get('started', '?')} at round {start}): {done} of its rounds were saved, "
            f"{left} were not run; press Run N to continue")


def _first_line(err) -> str:
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else type(err).__name__
    return text if len(text) <= 160 else text[:160] + "..."


class WriterLock:
    """An exclusive, non-blocking ``flock`` on ``<dir>/.lock``: one process writes a session
    at a time (the OS releases it even on ``kill -9``)."""

    def __init__(self, directory: Path):
        self.path = directory / ".lock"
        self.fd = None

    def acquire(self, wait_s=0.0):
        """Take the lock, retrying for up to ``wait_s`` seconds; :class:`SessionLockedError`
        when another process still holds it."""
        import fcntl

        deadline = time.monotonic() + max(float(wait_s or 0), 0.0)
        session_file(self.path.parent, ".lock")  # a link would truncate its target
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise SessionLockedError(
                        f"session {self.path.parent} is open for writing by another process "
                        f"({holder}); close it there first, or open it read-only",
                        path=self.path.parent, holder=holder) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        self.fd = fd

    def release(self):
        if self.fd is not None:
            import fcntl

            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
