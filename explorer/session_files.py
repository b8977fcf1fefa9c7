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
from pathlib import Path

from .exceptions import SessionError

#: what to do when each file of a session is damaged
RECOVER = {
    "session.json": "restore it from a backup (labels.parquet still holds every committed label)",
    "labels.parquet": "restore it from a backup (queries.parquet holds the queried ids of every "
                      "saved round)",
    "pending.json": "delete it to drop the labels given to the open batch (committed rounds are "
                    "kept in labels.parquet)",
    "rounds.parquet": "delete it: it is rebuilt from labels.parquet on the next save",
    "queries.parquet": "delete it: it is rebuilt from labels.parquet on the next save",
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


def _first_line(err) -> str:
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else type(err).__name__
    return text if len(text) <= 160 else text[:160] + "..."
