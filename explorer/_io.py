"""Atomic file writes: the one way the library puts a file on disk (temporary name, fsync, rename)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomic(path, write_fn) -> Path:
    """Write ``path`` so that a reader (or a crash, or ``kill -9``) sees the old file or the new one.

    ``write_fn(tmp)`` writes the whole content to ``tmp``, a temporary path in the same directory
    with the same suffix (so ``np.save`` and ``to_parquet`` keep their file names); the file is then
    flushed to disk (``fsync``) and renamed over ``path``. The temporary file is removed when
    ``write_fn`` or the rename fails, and the error is raised again. Parent directories are created.

    Parameters
    ----------
    path : str or Path
        The final file.
    write_fn : callable(Path) -> Any
        Writes the content to the path it is given.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    try:
        write_fn(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def save_array(path, array) -> Path:
    """``np.save`` an array atomically (no pickle): see :func:`write_atomic`."""
    import numpy as np

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array), allow_pickle=False)

    return write_atomic(path, write)
